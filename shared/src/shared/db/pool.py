"""asyncpg pools with json/jsonb decoded and encoded by orjson."""

import contextlib
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


class HeldConnection:
    """One connection of a pool kept by a hot loop for its own statements: no acquire, release and reset per
    statement, each of which costs a round trip through a busy event loop. A connection that broke is given back
    (the pool replaces it) and the next `get` takes another. `async with` gives it back at the end."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._conn: PoolConnectionProxy | None = None

    async def get(self) -> PoolConnectionProxy:
        """The held connection (a pool's connection proxy), taken from the pool the first time and whenever the
        one held broke."""
        if self._conn is not None:
            try:
                if not self._conn.is_closed():
                    return self._conn
            except asyncpg.InterfaceError:  # it broke, and the pool already took it back (the proxy is detached)
                self._conn = None
            await self.drop()
        self._conn = await self._pool.acquire()
        return self._conn

    async def __aenter__(self) -> "HeldConnection":
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.drop()

    async def drop(self) -> None:
        """Give the connection back after it failed; the next `get` takes a fresh one."""
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await self._pool.release(conn)


async def ping(pool: asyncpg.Pool) -> None:
    """One round trip to the database; raises when it does not answer."""
    await pool.fetchval("SELECT 1")
