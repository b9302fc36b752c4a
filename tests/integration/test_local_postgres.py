"""`make up`'s PostgreSQL never loses a write it acknowledged, even when it is stopped without warning."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from devstack import runner
from devstack.infra import EmbeddedPostgres, free_port

ROWS = 300


async def _commit_one_by_one(url: str) -> int:
    """Insert rows, each in its own committed transaction; returns how many commits were acknowledged."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CREATE TABLE acknowledged (n integer PRIMARY KEY)")
        for n in range(ROWS):
            await conn.execute("INSERT INTO acknowledged VALUES ($1)", n)
    finally:
        await conn.close()
    return ROWS


async def _count(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        count: int = await conn.fetchval("SELECT count(*) FROM acknowledged")
        return count
    except asyncpg.UndefinedTableError:  # even the table's creation was lost
        return 0
    finally:
        await conn.close()


def _survivors(server: EmbeddedPostgres) -> tuple[int, int]:
    server.start()
    try:
        acknowledged = asyncio.run(_commit_one_by_one(server.url))
        server.stop_immediately()  # pg_ctl stop -m immediate: no checkpoint, no flush, recovery at next start
        server.start()
        return acknowledged, asyncio.run(_count(server.url))
    finally:
        server.stop()


def test_make_ups_postgres_keeps_every_acknowledged_commit_through_an_immediate_stop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner, "LOCAL_DIR", tmp_path)
    monkeypatch.setenv("LOCAL_PG_PORT", str(free_port()))
    server = runner.local_postgres()  # exactly the server `make up` starts
    acknowledged, kept = _survivors(server)
    assert kept == acknowledged
