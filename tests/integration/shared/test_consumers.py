"""Consumers against the real broker: retries, dead letters, and a partition that never stalls."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from tests.infra import eventually
from tests.integration.api.conftest import serve_api

from shared.config import ServiceSettings
from shared.events import MemberDeleted, MemberUpserted, SendingScheduled
from shared.events.topics import SENDING_SCHEDULED, dead_letter_topic, ensure_topics
from shared.kafka import consume, consume_batch, make_broker, publish_events


def _settings(kafka: str) -> ServiceSettings:
    return ServiceSettings(kafka_bootstrap_servers=kafka, consumer_max_attempts=3, consumer_retry_backoff_seconds=0.01)


async def _produce(kafka: str, key: str, *values: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=kafka)
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(SENDING_SCHEDULED, value, key=key.encode())
    finally:
        await producer.stop()


async def _dead_letters(
    kafka: str, key: str, count: int, topic: str = SENDING_SCHEDULED
) -> list[tuple[bytes, dict[str, bytes]]]:
    """The dead-lettered messages of `topic` with `key`, read from the start of its dead-letter topic."""
    consumer = AIOKafkaConsumer(
        dead_letter_topic(topic),
        bootstrap_servers=kafka,
        group_id=f"dlq-reader-{uuid.uuid4()}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    found: list[tuple[bytes, dict[str, bytes]]] = []
    try:

        async def collected() -> bool:
            batches = await consumer.getmany(timeout_ms=200)
            for records in batches.values():
                found.extend((r.value, dict(r.headers)) for r in records if r.key == key.encode())
            return len(found) >= count

        await eventually(collected, 30, f"{count} dead letter(s) with key {key}")
    finally:
        await consumer.stop()
    return found


async def test_a_message_that_keeps_failing_is_dead_lettered_and_the_next_one_is_handled(kafka_bootstrap: str) -> None:
    settings = _settings(kafka_bootstrap)
    await ensure_topics(kafka_bootstrap, partitions=3)
    poison, healthy = random.randint(10**9, 2 * 10**9), random.randint(2 * 10**9, 3 * 10**9)
    attempts: dict[int, int] = {}
    handled: list[int] = []

    async def handler(event: SendingScheduled) -> None:
        if event.sending_id not in (poison, healthy):
            return  # events of other tests in the same topic
        attempts[event.sending_id] = attempts.get(event.sending_id, 0) + 1
        if event.sending_id == poison:
            raise RuntimeError("this sending cannot be prepared")
        handled.append(event.sending_id)

    broker = make_broker(settings, "test-consumer")
    consume(broker, settings, SendingScheduled, f"test-{uuid.uuid4()}", handler)
    await broker.start()
    try:
        key = f"k-{poison}"  # same key: same partition, so the healthy event waits behind the poison one
        await _produce(
            kafka_bootstrap,
            key,
            SendingScheduled(sending_id=poison).to_bytes(),
            SendingScheduled(sending_id=healthy).to_bytes(),
        )

        async def healthy_handled() -> bool:
            return handled == [healthy]

        await eventually(healthy_handled, 30, "the event behind the failing one to be handled")
    finally:
        await broker.stop()
    assert attempts == {poison: settings.consumer_max_attempts, healthy: 1}
    [(body, headers)] = await _dead_letters(kafka_bootstrap, key, 1)
    assert SendingScheduled.from_bytes(body).sending_id == poison
    assert headers["x-original-topic"] == SENDING_SCHEDULED.encode()
    assert headers["x-error-type"] == b"RuntimeError"
    assert b"cannot be prepared" in headers["x-error"]


async def test_a_message_that_is_not_an_event_is_dead_lettered_without_retries(kafka_bootstrap: str) -> None:
    settings = _settings(kafka_bootstrap)
    await ensure_topics(kafka_bootstrap, partitions=3)
    calls: list[int] = []
    marker = random.randint(3 * 10**9, 4 * 10**9)

    async def handler(event: SendingScheduled) -> None:
        if event.sending_id == marker:
            calls.append(event.sending_id)

    broker = make_broker(settings, "test-consumer")
    consume(broker, settings, SendingScheduled, f"test-{uuid.uuid4()}", handler)
    await broker.start()
    try:
        key = f"garbage-{marker}"
        await _produce(kafka_bootstrap, key, b"{not an event", SendingScheduled(sending_id=marker).to_bytes())

        async def marker_handled() -> bool:
            return calls == [marker]

        await eventually(marker_handled, 30, "the valid event after the garbage")
    finally:
        await broker.stop()
    [(body, headers)] = await _dead_letters(kafka_bootstrap, key, 1)
    assert body == b"{not an event"
    assert headers["x-error-type"] == b"ValidationError"


async def test_a_batch_consumer_retries_a_failing_batch_then_dead_letters_it_and_moves_on(kafka_bootstrap: str) -> None:
    settings = _settings(kafka_bootstrap)
    await ensure_topics(kafka_bootstrap, partitions=3)
    poison, healthy = random.randint(4 * 10**9, 5 * 10**9), random.randint(5 * 10**9, 6 * 10**9)
    tries = 0
    handled: list[int] = []

    async def handler(events: list[SendingScheduled]) -> None:
        nonlocal tries
        ours = [e.sending_id for e in events if e.sending_id in (poison, healthy)]
        if poison in ours:
            tries += 1
            raise RuntimeError("this batch cannot be applied")
        handled.extend(ours)

    broker = make_broker(settings, "test-batch-consumer")
    consume_batch(broker, settings, SendingScheduled, f"test-{uuid.uuid4()}", handler, max_records=1)
    await broker.start()
    try:
        key = f"batch-{poison}"
        await _produce(
            kafka_bootstrap,
            key,
            b"{garbage",
            SendingScheduled(sending_id=poison).to_bytes(),
            SendingScheduled(sending_id=healthy).to_bytes(),
        )

        async def healthy_handled() -> bool:
            return handled == [healthy]

        await eventually(healthy_handled, 30, "the batch behind the failing one to be handled")
    finally:
        await broker.stop()
    assert tries == settings.consumer_max_attempts
    letters = await _dead_letters(kafka_bootstrap, key, 2)
    assert sorted(h["x-error-type"] for _, h in letters) == [b"RuntimeError", b"ValidationError"]


async def test_a_member_event_for_an_unknown_lc_is_dead_lettered_at_once_and_writes_nothing(
    database_url: str, db: asyncpg.Pool, kafka_bootstrap: str
) -> None:
    await ensure_topics(kafka_bootstrap, partitions=3)
    member_id = random.randint(10**9, 2 * 10**9)
    slug = f"not-yet-{uuid.uuid4().hex[:8]}"
    events = [
        MemberUpserted(loyalty_club=slug, member_id=member_id, msisdn="4740769126", updated_at=datetime.now(UTC)),
        MemberDeleted(loyalty_club=slug, member_id=member_id, deleted_at=datetime.now(UTC)),
    ]
    # Backoffs this long would hold each event for minutes: only a dead letter without retries arrives in time.
    async with serve_api(database_url, kafka_bootstrap, consume_member_events=True,
                         consumer_max_attempts=5, consumer_retry_backoff_seconds=60):  # fmt: skip
        broker = make_broker(ServiceSettings(kafka_bootstrap_servers=kafka_bootstrap), "test-member-service")
        await broker.start()
        try:
            await publish_events(broker, events)
        finally:
            await broker.stop()
        for event in events:
            [(body, headers)] = await _dead_letters(kafka_bootstrap, str(member_id), 1, event.topic)
            assert type(event).from_bytes(body) == event  # unchanged, to be replayed once the LC exists
            assert headers["x-original-topic"] == event.topic.encode()
            assert headers["x-error-type"] == b"UnknownLoyaltyClub"
            assert slug.encode() in headers["x-error"]
    assert await db.fetchval("SELECT count(*) FROM members") == 0
    assert await db.fetchval("SELECT count(*) FROM loyalty_clubs") == 0
