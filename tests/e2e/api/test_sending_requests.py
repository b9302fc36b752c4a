"""`sending.requested` in (events spec §1) through the real processes: a platform service asks for a sending on
Kafka; it is validated like the HTTP endpoint, created once however often the request comes, announced with its
request id, refused with a `sending.rejected` that says what the HTTP endpoint would have said."""

from __future__ import annotations

import uuid
from typing import Any

from aiokafka import AIOKafkaProducer, TopicPartition
from tests.e2e.conftest import Stack
from tests.e2e.sendings import RECIPIENTS, SMS_MESSAGE, publish, wait_for_status
from tests.infra import eventually
from tests.kafka_log import end_offsets, published_since, records_since

from shared.events import SendingRejected, SendingRequested, SendingStatusChanged
from shared.events.topics import SENDING_REJECTED, SENDING_STATUS, dead_letter_topic


def _request(slug: str, **fields: Any) -> SendingRequested:
    return SendingRequested(request_id=str(uuid.uuid4()), requested_by="loyalty-engine", lc=slug, service="generic",
                            **fields)  # fmt: skip


async def _sendings_of(stack: Stack, request_id: str) -> list[int]:
    rows = await stack.pool.fetch("SELECT id FROM sendings WHERE request_id = $1", request_id)
    return [r["id"] for r in rows]


async def _rejection(stack: Stack, since: dict[TopicPartition, int], request_id: str) -> SendingRejected:
    async def arrived() -> SendingRejected | None:
        found = [e for _, e in await published_since(stack.kafka, since, SendingRejected) if e.request_id == request_id]
        return found[0] if found else None

    return await eventually(arrived, 20, f"sending.rejected of {request_id}")


async def test_a_requested_sending_is_created_once_however_often_it_comes_and_announced_with_its_request(
    stack: Stack,
) -> None:
    headers = stack.new_tenant("requests")
    statuses = await end_offsets(stack.kafka, SENDING_STATUS)
    message = {**SMS_MESSAGE, "sending": {"schedule": {"type": "immediate"}, "recipients": RECIPIENTS}}
    request = _request("requests", message=message)
    await publish(stack.kafka, [(request, request.request_id)] * 3)  # at least once: the producer retried twice

    async def created() -> list[int] | None:
        return await _sendings_of(stack, request.request_id) or None

    [sending_id] = await eventually(created, 20, "the requested sending")
    await wait_for_status(stack, headers, sending_id, "transmitted", 20)
    assert await _sendings_of(stack, request.request_id) == [sending_id], "one sending for three deliveries"

    async def announced() -> list[SendingStatusChanged] | None:
        found = [e for _, e in await published_since(stack.kafka, statuses, SendingStatusChanged)]
        mine = [e for e in found if e.sending_id == sending_id and e.lc == "requests"]
        return mine if mine and mine[-1].status == "transmitted" else None

    events = await eventually(announced, 20, "the requested sending's statuses")
    assert {e.request_id for e in events} == {request.request_id}


async def test_a_sending_of_an_existing_message_can_be_requested(stack: Stack) -> None:
    headers = stack.new_tenant("requests-existing")
    status, body = await stack.request("POST", "/v1/messages/generic", headers, {"message": SMS_MESSAGE})
    assert status == 201, body
    request = _request(
        "requests-existing",
        message_id=body["message"]["id"],
        sending={"schedule": {"type": "immediate"}, "recipients": RECIPIENTS[:1]},
    )
    await publish(stack.kafka, [(request, request.request_id)])

    async def created() -> list[int] | None:
        return await _sendings_of(stack, request.request_id) or None

    [sending_id] = await eventually(created, 20, "the requested sending")
    sending = await wait_for_status(stack, headers, sending_id, "transmitted", 20)
    assert sending["message_id"] == body["message"]["id"]


async def test_an_invalid_request_is_rejected_with_the_http_endpoints_words_and_changes_nothing(stack: Stack) -> None:
    headers = stack.new_tenant("requests-invalid")
    since = await end_offsets(stack.kafka, SENDING_REJECTED)
    message = {**SMS_MESSAGE, "sending": {"schedule": {"type": "relative", "in": "3 fortnights"}, "recipients": []}}
    status, answer = await stack.request("POST", "/v1/messages/generic", headers, {"message": message})
    assert status == 422, answer
    invalid = _request("requests-invalid", message=message)
    unknown_lc = _request("no-such-club", message=message)
    await publish(stack.kafka, [(invalid, invalid.request_id), (unknown_lc, unknown_lc.request_id)])
    rejected = await _rejection(stack, since, invalid.request_id)
    assert (rejected.error, rejected.details) == (answer["error"], answer["details"])
    assert (rejected.lc, rejected.service) == ("requests-invalid", "generic")
    assert (await _rejection(stack, since, unknown_lc.request_id)).error == "Unknown loyalty club 'no-such-club'"
    messages = await stack.pool.fetchval(
        "SELECT count(*) FROM messages m JOIN loyalty_clubs lc ON lc.id = m.loyalty_club_id WHERE lc.slug = $1",
        "requests-invalid",
    )
    assert messages == 0


async def test_bytes_that_are_not_an_event_go_to_the_dead_letter_topic(stack: Stack) -> None:
    topic = dead_letter_topic(SendingRequested.topic)
    since = await end_offsets(stack.kafka, topic)
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka)
    await producer.start()
    try:
        await producer.send_and_wait(SendingRequested.topic, b"this is not json", key=b"garbage")
    finally:
        await producer.stop()

    async def dead_lettered() -> bool:
        return any(value == b"this is not json" for _, value in await records_since(stack.kafka, since))

    await eventually(dead_lettered, 20, "the garbage in sending.requested.dlq")
