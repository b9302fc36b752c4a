"""Waiting out an outage: told once when it starts (then every 30 s), not once per try."""

from __future__ import annotations

import pytest
import structlog

from shared import outages


async def test_an_outage_is_logged_once_when_it_starts_and_once_when_it_ends_however_many_tries() -> None:
    tries = 0

    async def attempt() -> str:
        nonlocal tries
        tries += 1
        if tries <= 20:
            raise ConnectionRefusedError(111, "Connection refused")
        return "answered"

    with structlog.testing.capture_logs() as logs:
        result = await outages.retry_through_outages("Kafka at 127.0.0.1:1", attempt, max_delay=0.001)
    assert result == "answered"
    events = [(entry["event"], entry["what"]) for entry in logs]
    assert events == [("dependency_unavailable", "Kafka at 127.0.0.1:1"), ("dependency_back", "Kafka at 127.0.0.1:1")]


async def test_a_long_outage_is_told_again_every_say_again_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outages, "SAY_AGAIN_SECONDS", 0.05)
    tries = 0

    async def attempt() -> None:
        nonlocal tries
        tries += 1
        if tries <= 40:
            raise TimeoutError

    with structlog.testing.capture_logs() as logs:
        await outages.retry_through_outages("PostgreSQL at 127.0.0.1:2", attempt, max_delay=0.01)
    told = [entry for entry in logs if entry["event"] == "dependency_unavailable"]
    assert 2 <= len(told) < 40, f"{len(told)} lines for 40 tries"
    assert told[0]["waited_seconds"] == 0
