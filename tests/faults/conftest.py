"""Fixtures of the fault tier: one initialised PostgreSQL data directory for the session, a realistic provider per
test. Each test starts its own stack (`fault_stack`) with the settings it needs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.faults.provider import TwilioProvider, serve
from tests.faults.stack import initialised_pgdata


@pytest.fixture(scope="session")
def pgdata_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return initialised_pgdata(tmp_path_factory.mktemp("faults-pg"))


@pytest.fixture
async def provider() -> AsyncIterator[TwilioProvider]:
    async for running in serve(TwilioProvider()):
        yield running
