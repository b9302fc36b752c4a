"""Session fixtures: one real PostgreSQL server and one Kafka-protocol broker for the whole run."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
from tests.infra import broker_for_tests, create_template_database, create_test_database, drop_database

from devstack.infra import EmbeddedPostgres
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


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The broker of the integration tests."""
    yield from broker_for_tests(tmp_path_factory, "kafka")


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
