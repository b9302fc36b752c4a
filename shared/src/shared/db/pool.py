"""asyncpg pools with json/jsonb decoded and encoded by orjson."""

from typing import Any

import asyncpg
import orjson
from asyncpg.pool import PoolConnectionProxy

# What repository functions accept: a plain connection or one borrowed from a pool.
Conn = asyncpg.Connection | PoolConnectionProxy


def _encode_json(value: Any) -> str:
    return orjson.dumps(value).decode()


async def init_connection(conn: asyncpg.Connection) -> None:
    """Register orjson codecs so jsonb columns come back as Python objects."""
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name, schema="pg_catalog", encoder=_encode_json, decoder=orjson.loads, format="text"
        )


async def create_pool(url: str, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    """Open a pool to `url`; every connection gets the orjson json codecs."""
    pool = await asyncpg.create_pool(url, min_size=min_size, max_size=max_size, init=init_connection)
    assert pool is not None
    return pool
