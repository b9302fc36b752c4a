"""Worker probes: /healthz while the process lives, /readyz once the database answers and every consumer has
partitions; a database that stops answering makes it 503. Background loops survive outages; one that ends
fails the process."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import aiohttp
import asyncpg
from tests.infra import eventually

from devstack.processes import free_port
from shared.config import ServiceSettings
from shared.db import HeldConnection
from shared.events import SendingScheduled
from shared.health import liveness, readiness, serve_health
from shared.heartbeats import HEARTBEAT_SECONDS
from shared.kafka import consume
from shared.runtime import Runtime, open_runtime


async def test_a_worker_is_ready_once_its_consumers_have_partitions_and_not_without_its_database(
    database_url: str, kafka_bootstrap: str
) -> None:
    settings = ServiceSettings(database_url=database_url, kafka_bootstrap_servers=kafka_bootstrap)

    async def ignore(event: SendingScheduled) -> None:
        return None

    def register(runtime: Runtime) -> None:
        consume(runtime.broker, settings, SendingScheduled, f"health-{uuid.uuid4()}", ignore)

    port = free_port()
    async with open_runtime("probe-test", settings, register) as runtime, aiohttp.ClientSession() as http:
        probes = await serve_health(runtime, "127.0.0.1", port)
        try:
            async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                assert response.status == 200

            async def ready() -> bool:
                async with http.get(f"http://127.0.0.1:{port}/readyz") as response:
                    return response.status == 200

            await eventually(ready, 60, "the consumer assigned, so /readyz 200")
            await runtime.pool.close()  # the database is gone for this process
            async with http.get(f"http://127.0.0.1:{port}/readyz") as response:
                assert response.status == 503
                assert (await response.json())["error"].startswith("database unavailable")
            async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                assert response.status == 200, "alive all the same: restarting would not help"
        finally:
            await probes.cleanup()


async def test_a_loop_that_raises_runs_again_and_one_that_ends_makes_the_process_fail_and_unready(
    database_url: str, kafka_bootstrap: str
) -> None:
    settings = ServiceSettings(database_url=database_url, kafka_bootstrap_servers=kafka_bootstrap)
    runs: list[str] = []
    stopped = asyncio.Event()

    async def flaky() -> None:
        runs.append("flaky")
        if len(runs) < 3:
            raise ConnectionResetError("the database went away")
        await asyncio.Event().wait()

    async def ends() -> None:
        await eventually(lambda: _ran(runs, 3), 10, "the flaky loop run three times")

    def register(runtime: Runtime) -> None:
        runtime.spawn("flaky", flaky)
        runtime.spawn("ends", ends)

    async with open_runtime("failing-test", settings, register, stop_process=stopped.set) as runtime:
        await asyncio.wait_for(stopped.wait(), 20)
        assert runs == ["flaky"] * 3, "raised twice, run again each time, then kept running"
        assert runtime.failure == "background task ends ended"
        status, body = await readiness(runtime)
        assert (status, body["error"]) == (503, "failed: background task ends ended")
        assert liveness(runtime)[0] == 503, "so that it is restarted"


async def test_the_heartbeat_goes_on_after_the_database_dropped_every_connection(
    database_url: str, kafka_bootstrap: str, db: asyncpg.Pool
) -> None:
    settings = ServiceSettings(database_url=database_url, kafka_bootstrap_servers=kafka_bootstrap)
    async with open_runtime("beating-test", settings, lambda runtime: None) as runtime:

        async def beat_at() -> Any:
            return await db.fetchval(
                "SELECT beat_at FROM service_heartbeats WHERE service = 'beating-test' AND instance = $1",
                runtime.instance,
            )

        first = await eventually(beat_at, 10, "a first heartbeat")
        await db.execute(  # as a restart of PostgreSQL does
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )

        async def beat_again() -> bool:
            return bool((await beat_at()) > first + timedelta(seconds=HEARTBEAT_SECONDS))

        await eventually(beat_again, 20, "heartbeats after the connections were dropped")
        assert runtime.failure is None


async def _ran(runs: list[str], count: int) -> bool:
    return len(runs) >= count


async def test_a_held_connection_that_the_database_dropped_is_replaced_by_a_fresh_one(db: asyncpg.Pool) -> None:
    """The claims and outcomes writers each hold a connection; once PostgreSQL drops it, asyncpg's pool takes it
    back (the proxy is detached) and the next `get` must hand out a new one, not fail on the old one forever."""
    held = HeldConnection(db)
    try:
        conn = await held.get()
        pid = await conn.fetchval("SELECT pg_backend_pid()")
        await db.execute("SELECT pg_terminate_backend($1)", pid)

        async def taken_back() -> bool:
            try:
                conn.is_closed()
            except asyncpg.InterfaceError:
                return True
            return False

        await eventually(taken_back, 10, "the pool taking the dropped connection back")
        fresh = await held.get()
        assert await fresh.fetchval("SELECT pg_backend_pid()") != pid
        assert await held.get() is fresh
    finally:
        await held.drop()
