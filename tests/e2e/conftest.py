"""The whole stack as real processes: five services on a fresh database and a broker of their own."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import orjson
import pytest
from tests.e2e.providers import (  # noqa: F401 - fixtures
    fcm_server,
    sendgrid_server,
    smtp_server,
    twilio_broker,
    twilio_server,
)
from tests.infra import broker_for_tests, create_test_database, drop_database, eventually
from tests.infra_choice import Infra

from devstack.processes import free_port
from devstack.services import ServiceProcesses, service_env
from shared.db import init_connection

READY_TIMEOUT_SECONDS = 90


@dataclass
class Stack:
    """Handles on the running stack."""

    api_url: str
    receipts_url: str
    database_url: str
    kafka: str
    services: ServiceProcesses
    pool: asyncpg.Pool
    http: aiohttp.ClientSession
    log_path: Path
    metrics_urls: dict[str, str]

    def admin(self, *args: str) -> str:
        """Run `messaging-admin` against the stack's database; returns its output."""
        admin = Path(sys.executable).parent / "messaging-admin"
        done = subprocess.run(
            [str(admin), *args],
            env={**os.environ, "DATABASE_URL": self.database_url},
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        return done.stdout

    def new_tenant(self, slug: str, *permits: str) -> dict[str, str]:
        """An LC and a token for it (all permits unless some are named); returns the request headers."""
        self.admin("create-lc", slug, "--name", f"Club {slug}")
        which = [a for p in permits for a in ("--permit", p)] or ["--all-permits"]
        token = (
            self.admin("create-client", "--lc", slug, "--name", f"client of {slug}", *which).strip().splitlines()[-1]
        )
        return {
            "X-User-Agent": "e2e-tests",
            "X-Product-Name": "messaging-tests",
            "X-Loyalty-Club-Slug": slug,
            "X-Client-Authorization": token,
        }

    async def request(self, method: str, path: str, headers: dict[str, str], body: Any = None) -> tuple[int, Any]:
        """(status, parsed JSON body or None); bytes are sent as they are, anything else as JSON."""
        raw = body if isinstance(body, bytes) else None if body is None else orjson.dumps(body)
        headers = {**headers, "Content-Type": "application/json"}
        async with self.http.request(method, self.api_url + path, headers=headers, data=raw) as response:
            text = await response.read()
            return response.status, orjson.loads(text) if text else None


@pytest.fixture(scope="session")
def e2e_broker(tmp_path_factory: pytest.TempPathFactory, infra: Infra) -> Iterator[str]:
    """The stack's own broker, so no other test's events ever reach its services."""
    yield from broker_for_tests(tmp_path_factory, "e2e-kafka", infra)


# Long: the whole stack's start and its cleanup in one place, so a failed start still stops everything
@pytest.fixture(scope="session")
async def stack(
    template_database: str, e2e_broker: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    """Start the five services, wait for /readyz/pipeline, and stop them all afterwards, also on failure."""
    database_url = await create_test_database(template_database)
    api_port, receipts_port = free_port(), free_port()
    log_path = tmp_path_factory.mktemp("e2e-logs") / "services.log"
    log_file = open(log_path, "a", buffering=1)  # noqa: SIM115, ASYNC230 - opened once per session, closed in finally
    env = {
        **service_env(database_url, e2e_broker, api_port, receipts_port),
        "LOG_JSON": "true",
        "SCHEDULER_POLL_SECONDS": "0.5",
        "REDRIVE_INTERVAL_SECONDS": "1",
    }
    workers = ("scheduler", "preparer", "transmitter")
    health_ports = {name: free_port() for name in workers}
    metrics_urls = {name: f"http://127.0.0.1:{port}/metrics" for name, port in health_ports.items()}
    metrics_urls |= {"api": f"http://127.0.0.1:{api_port}/metrics",
                     "delivery-receipts": f"http://127.0.0.1:{receipts_port}/metrics"}  # fmt: skip
    by_service = {name: {"HEALTH_PORT": str(port)} for name, port in health_ports.items()}
    services = ServiceProcesses(env, write=log_file.write, env_by_service=by_service)
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=5, init=init_connection)
    http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
    try:
        services.start_all()

        async def ready() -> bool:
            assert not services.exited(), f"a service exited during start-up: {services.exited()}; see {log_path}"
            try:
                async with http.get(f"http://127.0.0.1:{api_port}/readyz/pipeline") as response:
                    return response.status == 200
            except aiohttp.ClientError:
                return False

        await eventually(ready, READY_TIMEOUT_SECONDS, "the stack's /readyz/pipeline", interval=0.2)
        yield Stack(
            f"http://127.0.0.1:{api_port}",
            f"http://127.0.0.1:{receipts_port}",
            database_url,
            e2e_broker,
            services,
            pool,
            http,
            log_path,
            metrics_urls,
        )
    finally:
        services.stop_all()
        await http.close()
        await pool.close()
        log_file.close()
        await drop_database(template_database, database_url)
