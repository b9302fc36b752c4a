"""When a batch's event is acknowledged, through the real broker and PostgreSQL: once every dispatch of the batch has
gone (its call is out, or it is done with), so the next batch of the partition starts while the last calls of this
one are out; not while one of its dispatches waits for a grant or a retry; and a stopping process waits for the
rest of an acknowledged batch to be recorded.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator, Sequence

import asyncpg
import pytest
from faststream.kafka import KafkaBroker
from tests.infra import eventually
from tests.integration.transmitter.transmitting import HeldProvider, RefusingOnce, at_least, sms_sending, transmitter

from shared.config import ServiceSettings
from shared.domain import DispatchId, SendingId
from shared.events import DispatchesPrepared
from shared.events.topics import ensure_topics
from shared.in_hand import finish_messages_in_hand
from shared.kafka import consume, make_broker, publish_events
from shared.runtime import Runtime
from transmitter.handlers import on_dispatches_prepared
from transmitter.service import Sender


@pytest.fixture
async def settings(kafka_bootstrap: str) -> ServiceSettings:
    await ensure_topics(kafka_bootstrap, partitions=3)
    return ServiceSettings(kafka_bootstrap_servers=kafka_bootstrap)


async def consuming(db: asyncpg.Pool, settings: ServiceSettings, sender: Sender) -> KafkaBroker:
    """A started broker whose consumer (a group of its own) hands `dispatches.prepared` to the transmitter's handler
    (earlier tests' events are in the topic too: their ids are not this test's, see `new_sending`)."""
    broker = make_broker(settings, "test-transmitter")
    runtime = Runtime(service="transmitter", settings=settings, pool=db, broker=broker)
    consume(broker, settings, DispatchesPrepared, f"test-{uuid.uuid4()}", on_dispatches_prepared(runtime, sender))
    await broker.start()
    return broker


async def new_sending(db: asyncpg.Pool, count: int) -> tuple[SendingId, list[DispatchId]]:
    """A sms sending whose sending and dispatch ids no other test's database has."""
    start = random.randrange(10**12, 2**62)
    await db.execute(f"ALTER TABLE sendings ALTER COLUMN id RESTART WITH {start}")
    await db.execute(f"ALTER TABLE dispatches ALTER COLUMN id RESTART WITH {start}")
    return await sms_sending(db, count)


async def announce(broker: KafkaBroker, sending_id: SendingId, *batches: Sequence[DispatchId]) -> None:
    """The batches, in this order, in one partition (the sending's key)."""
    events = [DispatchesPrepared(sending_id=sending_id, dispatch_ids=list(b)) for b in batches]
    await publish_events(broker, events)


@pytest.fixture
async def stopped_after() -> AsyncIterator[list[KafkaBroker]]:
    brokers: list[KafkaBroker] = []
    try:
        yield brokers
    finally:
        for broker in brokers:
            await broker.stop()


async def test_the_next_batch_starts_while_the_last_call_of_the_previous_one_is_out(
    db: asyncpg.Pool, settings: ServiceSettings, stopped_after: list[KafkaBroker]
) -> None:
    sending_id, ids = await new_sending(db, 10)
    first, second = ids[:5], ids[5:]
    provider = HeldProvider()
    async with transmitter(db, provider, concurrency=5) as sender:
        broker = await consuming(db, settings, sender)
        stopped_after.append(broker)
        await announce(broker, sending_id, first, second)
        await eventually(lambda: at_least(provider.calls, 5), 30, "the first batch's calls out")
        provider.release(*first[:4])  # its last call stays out
        await eventually(lambda: at_least(provider.calls, 6), 10, "the second batch under way")
        assert set(provider.calls[5:]) <= set(second)
        assert not await delivered(db, first[4:]), "the first batch's last call is still out"
        provider.release_all()

        async def transmitted() -> bool:
            return bool(await db.fetchval("SELECT status = 'transmitted' FROM sendings WHERE id = $1", sending_id))

        await eventually(transmitted, 10, "the sending transmitted")
    assert sorted(provider.calls) == ids, "each dispatch sent once"


async def test_a_batch_whose_dispatch_waits_for_a_retry_is_not_acknowledged_before_it_goes_again(
    db: asyncpg.Pool, settings: ServiceSettings, stopped_after: list[KafkaBroker]
) -> None:
    sending_id, ids = await new_sending(db, 3)
    refused, waiting, later = ids
    # One call at a time: `refused` is refused while `waiting` has not gone yet, and waits half a second for its
    # retry while `waiting` is sent: the batch is not all gone then, so the next batch must not start before it.
    provider = RefusingOnce(retry_after=0.5, only={refused})
    async with transmitter(db, provider, concurrency=1) as sender:
        broker = await consuming(db, settings, sender)
        stopped_after.append(broker)
        await announce(broker, sending_id, [refused, waiting], [later])
        await eventually(lambda: at_least(provider.calls, 4), 30, "every call made")
    assert [dispatch_id for dispatch_id, _ in provider.calls] == [refused, waiting, refused, later]


async def test_a_stopping_process_waits_until_the_last_calls_of_an_acknowledged_batch_are_recorded(
    db: asyncpg.Pool, settings: ServiceSettings, stopped_after: list[KafkaBroker]
) -> None:
    sending_id, ids = await new_sending(db, 3)
    provider = HeldProvider()
    async with transmitter(db, provider, concurrency=5) as sender:
        broker = await consuming(db, settings, sender)
        stopped_after.append(broker)
        await announce(broker, sending_id, ids)
        await eventually(lambda: at_least(provider.calls, 3), 30, "every call out, so the event is acknowledged")
        stopping = asyncio.create_task(finish_messages_in_hand(broker, grace=30))
        done, _ = await asyncio.wait({stopping}, timeout=0.5)  # were it not waiting, it would be over at once
        assert not done, "the stop did not wait for the calls out"
        provider.release_all()
        await asyncio.wait_for(stopping, 10)
        assert await delivered(db, ids) == set(ids), "answers recorded before the process stops"


async def delivered(db: asyncpg.Pool, ids: Sequence[DispatchId]) -> set[DispatchId]:
    """Those of `ids` whose provider answer is recorded."""
    rows = await db.fetch("SELECT id FROM dispatches WHERE id = ANY($1) AND transmission_status = 'transmitted'", ids)
    return {DispatchId(r["id"]) for r in rows}
