"""Session fixtures: one real PostgreSQL server and one Kafka-protocol broker for the whole run, in containers or
embedded as TEST_INFRA chooses (tests/infra_choice.py)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
from tests.containers import KAFKA_IMAGE, POSTGRES_IMAGE, postgres_container, pull_images
from tests.infra import broker_for_tests, create_template_database, create_test_database, drop_database
from tests.infra_choice import Infra, InfraSettingError, choose_infra, describe_infra, docker_answers

from devstack.infra import EmbeddedPostgres
from shared.db import init_connection

INFRA = pytest.StashKey[Infra]()
# A server given by URL is used as it is; only the others are started, from these images when in containers.
SERVER_URLS = {"DATABASE_URL": POSTGRES_IMAGE, "KAFKA_BOOTSTRAP_SERVERS": KAFKA_IMAGE}


def _infra_setting() -> str:
    return os.environ.get("TEST_INFRA", "auto")


def pytest_configure(config: pytest.Config) -> None:
    """Choose the servers once per run, so the header and every fixture agree."""
    try:
        config.stash[INFRA] = choose_infra(_infra_setting(), docker_answers)
    except InfraSettingError as error:
        raise pytest.UsageError(str(error)) from error


def pytest_report_header(config: pytest.Config) -> list[str]:
    given = [f"{name} given: that server is used" for name in SERVER_URLS if os.environ.get(name)]
    return [describe_infra(_infra_setting(), config.stash[INFRA]), *given]


def pytest_collection_finish(session: pytest.Session) -> None:
    """With containers, pull the images before the first test (under the header): a first pull takes longer than one
    test may."""
    if session.config.stash[INFRA] != "containers":
        return
    images = tuple(image for name, image in SERVER_URLS.items() if not os.environ.get(name))
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    pull_images(reporter.write_line if reporter else print, images)


@pytest.fixture(scope="session")
def infra(pytestconfig: pytest.Config) -> Infra:
    """Where the servers of this run are: `containers` (PostgreSQL and Apache Kafka in Docker) or `embedded`."""
    return pytestconfig.stash[INFRA]


@pytest.fixture(scope="session")
def postgres_server_url(tmp_path_factory: pytest.TempPathFactory, infra: Infra) -> Iterator[str]:
    """URL of a PostgreSQL server's admin database: DATABASE_URL, or a server of our own."""
    url = os.environ.get("DATABASE_URL")
    if url:
        yield url
        return
    if infra == "containers":
        with postgres_container() as url:
            yield url
        return
    base = tmp_path_factory.mktemp("postgres")
    server = EmbeddedPostgres(base / "data", log_file=base / "postgres.log").start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory, infra: Infra) -> Iterator[str]:
    """The broker of the integration tests."""
    yield from broker_for_tests(tmp_path_factory, "kafka", infra)


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
