"""The api service served for real on 127.0.0.1 (uvicorn in the test loop), on its own database."""

from __future__ import annotations

import asyncio
import contextlib
import io
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import asyncpg
import orjson
import pytest
import uvicorn
from tests.infra import create_test_database, drop_database, eventually

from api.admin.tenants import create_client, create_lc
from api.config import ApiSettings
from api.main import create_app
from api.permits import ALL_PERMITS
from devstack.processes import free_port
from shared.db import init_connection

LARGE_BODY = 1024 * 1024


@dataclass
class Api:
    """A running api service and a way to talk to it."""

    url: str
    database_url: str
    pool: asyncpg.Pool
    http: aiohttp.ClientSession

    async def tenant(self, *permits: str, slug: str | None = None) -> dict[str, str]:
        """A new LC with a client holding `permits` (all when none); returns the request headers."""
        slug = slug or f"lc-{uuid.uuid4().hex[:10]}"
        await create_lc(self.database_url, slug, f"Club {slug}")
        token = await create_client(self.database_url, [slug], "tests", list(permits) or list(ALL_PERMITS))
        return {
            "X-User-Agent": "api-tests",
            "X-Product-Name": "messaging-tests",
            "X-Loyalty-Club-Slug": slug,
            "X-Client-Authorization": token,
        }

    async def call(
        self, method: str, path: str, headers: dict[str, str], body: Any = None, extra: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        """(status, parsed JSON or None); bytes are sent as they are, anything else as JSON."""
        encoded = body if isinstance(body, bytes) else None if body is None else orjson.dumps(body)
        raw: bytes | io.BytesIO | None = encoded
        if encoded is not None and len(encoded) > LARGE_BODY:  # aiohttp wants large bodies as a stream
            raw = io.BytesIO(encoded)
        all_headers = {**headers, "Content-Type": "application/json", **(extra or {})}
        async with self.http.request(method, self.url + path, headers=all_headers, data=raw) as response:
            text = await response.read()
            return response.status, orjson.loads(text) if text else None


@contextlib.asynccontextmanager
async def serve_api(database_url: str, kafka: str, **settings: Any) -> AsyncIterator[Api]:
    """An api server on 127.0.0.1 (uvicorn in this loop) for as long as the context lasts."""
    port = free_port()
    # The member and sending-request consumers are tested end to end; here their group joins would only slow each
    # start.
    settings.setdefault("consume_member_events", False)
    settings.setdefault("consume_sending_requests", False)
    config = ApiSettings(database_url=database_url, kafka_bootstrap_servers=kafka, api_port=port, **settings)
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(config), host="127.0.0.1", port=port, log_config=None, access_log=False,
            timeout_graceful_shutdown=5,
        )
    )  # fmt: skip
    serving = asyncio.create_task(server.serve())
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=5, init=init_connection)
    http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
    try:

        async def started() -> bool:
            assert not serving.done(), "the api server stopped during start-up"
            return server.started

        await eventually(started, 60, "the api server to start")
        yield Api(f"http://127.0.0.1:{port}", database_url, pool, http)
    finally:
        await http.close()  # first: the server's graceful shutdown waits for open client connections
        server.should_exit = True
        await serving
        await pool.close()


@pytest.fixture(scope="session")
async def api_database(template_database: str) -> AsyncIterator[str]:
    """The database the API tests share; each test isolates itself in LCs of its own."""
    database_url = await create_test_database(template_database)
    try:
        yield database_url
    finally:
        await drop_database(template_database, database_url)


@pytest.fixture(scope="session")
async def api(api_database: str, kafka_bootstrap: str) -> AsyncIterator[Api]:
    """One api server with the default settings for the API tests."""
    async with serve_api(api_database, kafka_bootstrap) as server:
        yield server
