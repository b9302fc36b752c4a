"""Session fixtures: one real PostgreSQL server and one Kafka-protocol broker for the whole run."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from tests.infra import create_template_database, create_test_database, drop_database

from devstack.infra import EmbeddedPostgres, TansuBroker
from shared.db import init_connection


@pytest.fixture(scope="session")
def postgres_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a PostgreSQL server's admin database: DATABASE_URL, or an embedded server of our own."""
    url = os.environ.get("DATABASE_URL")
    if url:
        yield url
        return
    base = tmp_path_factory.mktemp("postgres")
    server = EmbeddedPostgres(base / "data", log_file=base / "postgres.log").start()
    try:
        yield server.url
    finally:
        server.stop()


def start_broker(log_dir: Path) -> TansuBroker:
    return TansuBroker(log_file=log_dir / "tansu.log").start()


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Kafka-protocol broker: KAFKA_BOOTSTRAP_SERVERS, or an embedded Tansu of our own."""
    servers = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if servers:
        yield servers
        return
    broker = start_broker(tmp_path_factory.mktemp("kafka"))
    try:
        yield broker.bootstrap_servers
    finally:
        broker.stop()


@pytest.fixture(scope="session")
async def template_database(postgres_server_url: str) -> str:
    """The migrated template every test database is cloned from."""
    await create_template_database(postgres_server_url)
    return postgres_server_url


@pytest.fixture
async def database_url(template_database: str) -> AsyncIterator[str]:
    """A fresh, migrated database for one test, dropped afterwards."""
    url = await create_test_database(template_database)
    try:
        yield url
    finally:
        await drop_database(template_database, url)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on the test's own database, with the services' json codecs."""
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=5, init=init_connection)
    assert pool is not None
    try:
        yield pool
    finally:
        await pool.close()
