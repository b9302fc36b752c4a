"""`sending.status` under crashes of the process that publishes it (the scheduler's relay): a change committed
before the publisher died is still announced, with the same event id however often it is published."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from tests.faults.provider import TwilioProvider
from tests.faults.stack import FaultStack, fault_stack
from tests.infra import eventually
from tests.kafka_log import end_offsets, published_since

from devstack.processes import pause
from shared.events import SendingStatusChanged
from shared.events.topics import SENDING_STATUS

pytestmark = pytest.mark.timeout(300)
SENDINGS = 5


async def _scheduled_then_cancelled(stack: FaultStack) -> list[int]:
    """Sendings due tomorrow, each cancelled at once: two status changes each, both made (and committed) by the api."""
    ids = []
    for n in range(SENDINGS):
        message = {"name": f"announced {n}", "channels": [{"type": "sms", "template": {"type": "inline", "definition": {
            "type": "plain", "content": {"body": "Hei"}}}}], "sending": {
            "schedule": {"type": "relative", "in": "1 day"}, "recipients": [{"msisdn": f"479200{n:04d}"}]}}  # fmt: skip
        status, body = await stack.post("/v1/messages/generic", {"message": message})
        assert status == 201, body
        sending_id = body["message"]["latest_sending"]["id"]
        async with stack.http.put(
            f"{stack.api_url}/v1/messages/generic/sendings/{sending_id}/cancel", headers=stack.headers
        ) as response:
            assert response.status == 200, await response.text()
        ids.append(sending_id)
    return ids


async def test_a_publisher_killed_after_the_changes_committed_still_announces_every_one(
    pgdata_template: Path, tmp_path: Path, provider: TwilioProvider
) -> None:
    async with fault_stack(pgdata_template, tmp_path, provider) as stack:
        kafka = stack.broker.bootstrap_servers
        await eventually(lambda: _outbox_empty(stack), 30, "the outbox drained after start-up")
        before = await end_offsets(kafka, SENDING_STATUS)
        pause(stack.services.processes["scheduler"])  # the relay is frozen: changes commit, nothing is published
        stack.note("SIGSTOP scheduler")
        ids = await _scheduled_then_cancelled(stack)
        waiting = await stack.query("SELECT count(*) AS n FROM sending_status_outbox")
        assert waiting[0]["n"] == 2 * SENDINGS, "every change committed, none published yet"
        stack.services.kill("scheduler", signal.SIGKILL)  # dies without having published; the supervisor restarts it
        stack.note("SIGKILL scheduler")

        async def announced() -> dict[int, list[tuple[int, str | None, str]]] | None:
            found = [e for _, e in await published_since(kafka, before, SendingStatusChanged) if e.sending_id in ids]
            unique = {e.event_id: e for e in found}.values()  # consumers dedupe on event_id, as the spec says
            by_sending: dict[int, list[tuple[int, str | None, str]]] = {i: [] for i in ids}
            for event in unique:
                by_sending[event.sending_id].append((event.sequence, event.previous_status, event.status))
            return by_sending if all(len(v) == 2 for v in by_sending.values()) else None

        by_sending = await eventually(announced, 60, "every status change announced after the restart", 0.5)
        for changes in by_sending.values():
            assert changes == [(1, None, "scheduled"), (2, "scheduled", "cancelled")]
        await eventually(lambda: _outbox_empty(stack), 30, "the outbox empty once published")


async def _outbox_empty(stack: FaultStack) -> bool:
    rows = await stack.query("SELECT count(*) AS n FROM sending_status_outbox")
    return bool(rows[0]["n"] == 0)
