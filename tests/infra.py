"""Real infrastructure for tests: PostgreSQL databases cloned from a migrated template, Kafka brokers.

Servers are started (in containers or embedded, as TEST_INFRA chose) unless DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS
point at running ones.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from tests.containers import kafka_container
from tests.infra_choice import Infra

from devstack.infra import TansuBroker
from shared.db import migrate

T = TypeVar("T")
TEMPLATE_DATABASE = "messaging_test_template"


def with_database(url: str, name: str) -> str:
    """`url` pointing at database `name` instead."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


async def create_template_database(server_url: str) -> None:
    """(Re)create the template database and migrate it once per test session."""
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE_DATABASE}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{TEMPLATE_DATABASE}"')
    finally:
        await conn.close()
    await migrate(with_database(server_url, TEMPLATE_DATABASE))


async def create_test_database(server_url: str) -> str:
    """A fresh database cloned from the migrated template; returns its URL."""
    name = f"test_{uuid.uuid4().hex[:16]}"
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE_DATABASE}"')
    finally:
        await conn.close()
    return with_database(server_url, name)


async def drop_database(server_url: str, url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def eventually(check: Callable[[], Awaitable[T | None]], within: float, what: str, interval: float = 0.05) -> T:
    """Poll `check` until it returns something truthy, or fail after `within` seconds saying `what`."""
    deadline = time.monotonic() + within
    last: T | None = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {within}s waiting for {what}; last value: {last!r}")


def broker_for_tests(tmp_path_factory: pytest.TempPathFactory, name: str, infra: Infra) -> Iterator[str]:
    """KAFKA_BOOTSTRAP_SERVERS, or a broker of our own (Apache Kafka in a container, or an embedded Tansu) for as long
    as the generator lives."""
    servers = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if servers:
        yield servers
        return
    if infra == "containers":
        with kafka_container() as servers:
            yield servers
        return
    broker = TansuBroker(log_file=tmp_path_factory.mktemp(name) / "tansu.log").start()
    try:
        yield broker.bootstrap_servers
    finally:
        broker.stop()
