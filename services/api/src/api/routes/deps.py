"""Dependencies the routes share: a pooled connection, pagination parameters, the `{service_name}` segment."""

from collections.abc import AsyncIterator
from typing import Annotated, cast

import asyncpg
from fastapi import Depends, Path, Query, Request
from starlette.convertors import Convertor, register_url_convertor

from api.middleware import REQUEST_CONNECTION
from api.permits import SERVICES
from shared.domain import INT64_MAX
from shared.runtime import Runtime


class ServiceNameConvertor(Convertor[str]):
    """`{service_name:service}`: only the services of spec §1.2 match, so `/v1/messages/settings` and its siblings
    are never taken for a service (another method on them is a 405 with Allow), and an unknown service is 404."""

    regex = "|".join(sorted(SERVICES, key=len, reverse=True))

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("service", ServiceNameConvertor())

MAX_PER_PAGE = 100


def runtime_of(request: Request) -> Runtime:
    """The process's runtime (pool, broker, settings), which the app's lifespan opened."""
    runtime: Runtime = request.app.state.runtime
    return runtime


async def connection(request: Request) -> AsyncIterator[asyncpg.Connection]:
    """A connection from the service's pool for the length of one request; for a request with an Idempotency-Key,
    the connection whose transaction holds the key (what the request writes commits with its answer)."""
    shared = request.scope.get(REQUEST_CONNECTION)
    if shared is not None:
        yield shared
        return
    async with runtime_of(request).pool.acquire() as conn:
        yield cast(asyncpg.Connection, conn)  # the pool's proxy stands for the connection it holds


Conn = Annotated[asyncpg.Connection, Depends(connection)]
PerPage = Annotated[int, Query(ge=1, le=MAX_PER_PAGE)]
# Ids are bigints: a larger number is answered 422, not sent to the database.
MAX_ID = INT64_MAX
Id = Annotated[int, Path(ge=1, le=MAX_ID)]
OptionalBigint = Annotated[int | None, Query(ge=-MAX_ID, le=MAX_ID)]

# Bounded so that the offset always fits in a bigint.
MAX_PAGE_NO = 1_000_000_000
PageNo = Annotated[int, Query(ge=1, le=MAX_PAGE_NO)]
