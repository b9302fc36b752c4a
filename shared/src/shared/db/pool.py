"""asyncpg pools with json/jsonb decoded and encoded by orjson."""

from typing import Any

import asyncpg
import orjson
from asyncpg.pool import PoolConnectionProxy

# What repository functions accept: a plain connection or one borrowed from a pool.
Conn = asyncpg.Connection | PoolConnectionProxy


def _encode_jsonb(value: Any) -> bytes:
    return b"\x01" + orjson.dumps(value)  # jsonb's binary format: version 1, then the JSON text


def _decode_jsonb(data: bytes) -> Any:
    return orjson.loads(data[1:])


async def init_connection(conn: asyncpg.Connection) -> None:
    """Register orjson codecs so json/jsonb columns come back as Python objects.

    Binary format, so `COPY` (always binary in asyncpg) can write jsonb columns directly.
    """
    await conn.set_type_codec("json", schema="pg_catalog", encoder=orjson.dumps, decoder=orjson.loads, format="binary")
    await conn.set_type_codec(
        "jsonb", schema="pg_catalog", encoder=_encode_jsonb, decoder=_decode_jsonb, format="binary"
    )


async def create_pool(url: str, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    """Open a pool to `url`; every connection gets the orjson json codecs."""
    pool = await asyncpg.create_pool(url, min_size=min_size, max_size=max_size, init=init_connection)
    assert pool is not None
    return pool
