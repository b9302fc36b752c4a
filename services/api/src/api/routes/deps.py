"""Dependencies the routes share: a pooled connection and pagination parameters."""

from collections.abc import AsyncIterator
from typing import Annotated

import asyncpg
from fastapi import Depends, Query, Request

MAX_PER_PAGE = 100


async def connection(request: Request) -> AsyncIterator[asyncpg.Connection]:
    """A connection from the service's pool for the length of one request."""
    async with request.app.state.runtime.pool.acquire() as conn:
        yield conn


Conn = Annotated[asyncpg.Connection, Depends(connection)]
PerPage = Annotated[int, Query(ge=1, le=MAX_PER_PAGE)]
PageNo = Annotated[int, Query(ge=1)]
