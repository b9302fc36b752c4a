"""`UnitOfWork` on the real PostgreSQL and broker: events leave only after their transaction committed, in the
order given and under their own keys; a body that raises rolls back and publishes nothing."""

from __future__ import annotations

import random

import asyncpg
import pytest
from aiokafka import TopicPartition
from faststream.kafka import KafkaBroker
from tests.infra import eventually
from tests.kafka_log import end_offsets, published_since

from shared.events import SendingScheduled
from shared.events.topics import SENDING_SCHEDULED
from shared.unit_of_work import UnitOfWork


async def _end_offsets(kafka: str) -> dict[TopicPartition, int]:
    return await end_offsets(kafka, SENDING_SCHEDULED)


async def _published(kafka: str, since: dict[TopicPartition, int]) -> list[tuple[bytes | None, int]]:
    """(key, sending id) of every sending.scheduled written after `since`, in partition order."""
    return [(key, event.sending_id) for key, event in await published_since(kafka, since, SendingScheduled)]


async def _marker_table(db: asyncpg.Pool) -> None:
    await db.execute("CREATE TABLE IF NOT EXISTS uow_marks (sending_id bigint PRIMARY KEY)")


async def test_events_leave_after_the_commit_in_order_under_their_keys(
    db: asyncpg.Pool, broker: KafkaBroker, kafka_bootstrap: str
) -> None:
    await _marker_table(db)
    first, second = random.randrange(10**12, 10**13), random.randrange(10**12, 10**13)
    before = await _end_offsets(kafka_bootstrap)
    async with UnitOfWork(db, broker) as uow:
        await uow.conn.execute("INSERT INTO uow_marks VALUES ($1), ($2)", first, second)
        uow.publish(SendingScheduled(sending_id=first), SendingScheduled(sending_id=second))
        assert await _end_offsets(kafka_bootstrap) == before, "an event left before its transaction committed"
        assert await db.fetchval("SELECT count(*) FROM uow_marks WHERE sending_id = ANY($1)", [first, second]) == 0
    assert await db.fetchval("SELECT count(*) FROM uow_marks WHERE sending_id = ANY($1)", [first, second]) == 2
    published = await _published(kafka_bootstrap, before)
    assert sorted(published) == sorted([(str(first).encode(), first), (str(second).encode(), second)])


async def test_a_body_that_raises_rolls_back_and_publishes_nothing(
    db: asyncpg.Pool, broker: KafkaBroker, kafka_bootstrap: str
) -> None:
    await _marker_table(db)
    sending_id = random.randrange(10**12, 10**13)
    before = await _end_offsets(kafka_bootstrap)

    async def fail_half_way() -> None:
        async with UnitOfWork(db, broker) as uow:
            await uow.conn.execute("INSERT INTO uow_marks VALUES ($1)", sending_id)
            uow.publish(SendingScheduled(sending_id=sending_id))
            raise RuntimeError("half way")

    with pytest.raises(RuntimeError, match="half way"):
        await fail_half_way()
    assert await db.fetchval("SELECT count(*) FROM uow_marks WHERE sending_id = $1", sending_id) == 0
    assert await _end_offsets(kafka_bootstrap) == before
    assert db.get_size() - db.get_idle_size() == 0, "the unit kept its connection"


async def test_in_the_background_the_event_still_arrives_after_the_commit(
    db: asyncpg.Pool, broker: KafkaBroker, kafka_bootstrap: str
) -> None:
    await _marker_table(db)
    sending_id = random.randrange(10**12, 10**13)
    before = await _end_offsets(kafka_bootstrap)
    async with UnitOfWork(db, broker, background=True) as uow:
        await uow.conn.execute("INSERT INTO uow_marks VALUES ($1)", sending_id)
        uow.publish(SendingScheduled(sending_id=sending_id))
    assert await db.fetchval("SELECT count(*) FROM uow_marks WHERE sending_id = $1", sending_id) == 1

    async def arrived() -> bool:
        return (str(sending_id).encode(), sending_id) in await _published(kafka_bootstrap, before)

    await eventually(arrived, 10, "the announcement made in the background")


async def test_a_commit_that_fails_publishes_nothing(
    db: asyncpg.Pool, broker: KafkaBroker, kafka_bootstrap: str
) -> None:
    """The body ran to its end, but PostgreSQL refused the COMMIT (a deferred constraint is checked only there):
    nothing was committed, so nothing may be announced."""
    await db.execute(
        "CREATE TABLE IF NOT EXISTS uow_deferred"
        " (sending_id bigint, CONSTRAINT uow_deferred_once UNIQUE (sending_id) DEFERRABLE INITIALLY DEFERRED)"
    )
    sending_id = random.randrange(10**12, 10**13)
    before = await _end_offsets(kafka_bootstrap)

    async def commit_refused() -> None:
        async with UnitOfWork(db, broker) as uow:
            await uow.conn.execute("INSERT INTO uow_deferred VALUES ($1), ($1)", sending_id)
            uow.publish(SendingScheduled(sending_id=sending_id))

    with pytest.raises(asyncpg.UniqueViolationError):
        await commit_refused()
    assert await db.fetchval("SELECT count(*) FROM uow_deferred WHERE sending_id = $1", sending_id) == 0
    assert await _end_offsets(kafka_bootstrap) == before, "an event left although its COMMIT failed"
    assert db.get_size() - db.get_idle_size() == 0, "the unit kept its connection"
