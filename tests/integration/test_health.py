"""Worker probes: /healthz while the process lives, /readyz once the database answers and every consumer has
partitions; a database that stops answering makes it 503."""

from __future__ import annotations

import uuid

import aiohttp
from tests.infra import eventually

from devstack.infra import free_port
from shared.config import ServiceSettings
from shared.events import SendingScheduled
from shared.health import serve_health
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
