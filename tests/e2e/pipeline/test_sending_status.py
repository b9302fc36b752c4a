"""`sending.status` out (events spec §2) through the real processes: what a platform service reading the topic
sees of a sending, from its creation to its end."""

from __future__ import annotations

from aiokafka import TopicPartition
from tests.e2e.conftest import Stack
from tests.e2e.sendings import RECIPIENTS, post_sending, sending_of, wait_for_status
from tests.infra import eventually
from tests.kafka_log import end_offsets, published_since

from shared.events import SendingStatusChanged
from shared.events.topics import SENDING_STATUS


async def _events_until(
    stack: Stack, since: dict[TopicPartition, int], slug: str, last: str
) -> list[SendingStatusChanged]:
    """The LC's sending.status events once one with status `last` arrived (with duplicates dropped by event id,
    as the spec tells consumers to)."""

    async def arrived() -> list[SendingStatusChanged] | None:
        found = [e for _, e in await published_since(stack.kafka, since, SendingStatusChanged) if e.lc == slug]
        unique = list({e.event_id: e for e in found}.values())
        return unique if unique and unique[-1].status == last else None

    return await eventually(arrived, 20, f"sending.status {last} of {slug}")


async def test_every_status_change_of_a_sending_is_announced_in_order_with_its_ledger(stack: Stack) -> None:
    headers = stack.new_tenant("status-out")
    before = await end_offsets(stack.kafka, SENDING_STATUS)
    sending_id = await post_sending(stack, headers, {"schedule": {"type": "immediate"}, "recipients": RECIPIENTS})
    sending = await wait_for_status(stack, headers, sending_id, "transmitted", 20)
    events = await _events_until(stack, before, "status-out", "transmitted")
    assert [(e.sequence, e.previous_status, e.status) for e in events] == [
        (1, None, "scheduled"), (2, "scheduled", "preparing"), (3, "preparing", "prepared"),
        (4, "prepared", "transmitting"), (5, "transmitting", "transmitted"),
    ]  # fmt: skip
    assert {(e.sending_id, e.message_id, e.service, e.request_id) for e in events} == {
        (sending_id, sending["message_id"], "generic", None)
    }
    final = events[-1].stats
    assert (final.planned, final.prepared, final.transmitted, final.failed) == (2, 2, 2, 0)
    assert events[2].stats.prepared == 2, "prepared announces the dispatches it prepared"


async def test_a_cancelled_sending_is_announced_as_cancelled(stack: Stack) -> None:
    """A change made by the api (no worker involved) is announced like any other."""
    headers = stack.new_tenant("status-cancel")
    before = await end_offsets(stack.kafka, SENDING_STATUS)
    sending_id = await post_sending(
        stack, headers, {"schedule": {"type": "relative", "in": "1 day"}, "recipients": RECIPIENTS}
    )
    status, body = await stack.request("PUT", f"/v1/messages/generic/sendings/{sending_id}/cancel", headers)
    assert status == 200, body
    assert (await sending_of(stack, headers, sending_id))["status"] == "cancelled"
    events = await _events_until(stack, before, "status-cancel", "cancelled")
    assert [(e.sequence, e.previous_status, e.status) for e in events] == [
        (1, None, "scheduled"), (2, "scheduled", "cancelled")
    ]  # fmt: skip
