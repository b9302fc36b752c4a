"""The sending.status outbox on the real PostgreSQL and broker: every status change, from any writer, becomes one
event in order with the sending's ledger; a relay that dies before forgetting publishes the same event again;
one relay publishes at a time."""

from __future__ import annotations

import asyncpg
import pytest
from aiokafka import TopicPartition
from faststream.kafka import KafkaBroker
from tests.kafka_log import end_offsets, published_since
from tests.seed import create_lc_row, create_sms_audience_sending

from scheduler import repository
from scheduler.service import relay_status_changes
from shared.events import SendingStatusChanged
from shared.events.topics import SENDING_STATUS
from shared.ledger import Stats

EVERYONE = [{"condition_group": "member_properties", "field": "points", "operator": "gte", "value": 0}]


async def _sending_with_history(db: asyncpg.Pool, slug: str) -> int:
    """A sending created `preparing`, then prepared, transmitting and transmitted, with three dispatches; and
    two updates that change no status."""
    async with db.acquire() as conn:
        lc_id = await create_lc_row(conn, slug)
        sending_id = await create_sms_audience_sending(conn, lc_id, EVERYONE)
        await conn.executemany(
            "INSERT INTO dispatches (sending_id, loyalty_club_id, recipient_key, type, transmission_status, "
            "delivery_status) VALUES ($1, $2, $3, 'sms', $4, $5)",
            [(sending_id, lc_id, "a", "transmitted", "delivered"), (sending_id, lc_id, "b", "transmitted", "pending"),
             (sending_id, lc_id, "c", "failed", "pending")],
        )  # fmt: skip
        for change in ("status = 'prepared', suppressed_count = 2, unreachable_count = 1", "updated_at = now()",
                       "status = 'transmitting'", "status = 'transmitting'", "status = 'transmitted'"):  # fmt: skip
            await conn.execute(f"UPDATE sendings SET {change} WHERE id = $1", sending_id)  # noqa: S608
    return sending_id


async def _events_of(
    kafka: str, since: dict[TopicPartition, int], slug: str
) -> list[tuple[bytes | None, SendingStatusChanged]]:
    """The events of the test's own LC (every test has its own database, so sending ids repeat across tests)."""
    found = await published_since(kafka, since, SendingStatusChanged)
    return [(key, event) for key, event in found if event.lc == slug]


async def test_each_status_change_is_one_event_in_order_with_the_ledger_then_leaves_the_outbox(
    db: asyncpg.Pool, broker: KafkaBroker, kafka_bootstrap: str
) -> None:
    sending_id = await _sending_with_history(db, "relay-order")
    before = await end_offsets(kafka_bootstrap, SENDING_STATUS)
    assert await relay_status_changes(db, broker, batch_size=2) == 2, "a batch is at most batch_size"
    assert await relay_status_changes(db, broker, batch_size=500) == 2
    events = await _events_of(kafka_bootstrap, before, "relay-order")
    assert [(e.sequence, e.previous_status, e.status) for _, e in events] == [
        (1, None, "preparing"), (2, "preparing", "prepared"), (3, "prepared", "transmitting"),
        (4, "transmitting", "transmitted"),
    ]  # fmt: skip
    assert {key for key, _ in events} == {str(sending_id).encode()}
    last = events[-1][1]
    assert (last.lc, last.service, last.request_id) == ("relay-order", "campaign", None)
    assert last.stats == Stats(
        planned=6, prepared=3, suppressed=2, unreachable=1, pending=0, transmitted=2, failed=1, delivered=1,
        delivery_failed=0, delivery_pending=1,
    )  # fmt: skip
    assert len({e.event_id for _, e in events}) == 4
    assert await db.fetchval("SELECT count(*) FROM sending_status_outbox") == 0
    assert await relay_status_changes(db, broker, batch_size=500) == 0


async def test_a_relay_that_dies_before_forgetting_publishes_the_same_events_again(
    db: asyncpg.Pool, broker: KafkaBroker, kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Published, then the process died before its DELETE committed: the rows are still there, so the events go
    out again, with the same event ids (consumers dedupe on them)."""
    await _sending_with_history(db, "relay-crash")
    before = await end_offsets(kafka_bootstrap, SENDING_STATUS)

    async def dies(*_: object) -> None:
        raise ConnectionResetError("the relay's process died here")

    with monkeypatch.context() as patch:
        patch.setattr(repository, "forget_status_changes", dies)
        with pytest.raises(ConnectionResetError):
            await relay_status_changes(db, broker, batch_size=500)
    assert await db.fetchval("SELECT count(*) FROM sending_status_outbox") == 4, "nothing was forgotten"
    assert await relay_status_changes(db, broker, batch_size=500) == 4
    events = [e for _, e in await _events_of(kafka_bootstrap, before, "relay-crash")]
    assert len(events) == 8
    assert [e.event_id for e in events[:4]] == [e.event_id for e in events[4:]]
    assert [e.sequence for e in events] == [1, 2, 3, 4, 1, 2, 3, 4]


async def test_while_one_relay_holds_the_lock_another_publishes_nothing(db: asyncpg.Pool, broker: KafkaBroker) -> None:
    await _sending_with_history(db, "relay-lock")
    async with db.acquire() as conn, conn.transaction():
        assert await repository.lock_status_relay(conn)
        assert await relay_status_changes(db, broker, batch_size=500) == 0
    assert await db.fetchval("SELECT count(*) FROM sending_status_outbox") == 4
    assert await relay_status_changes(db, broker, batch_size=500) == 4


async def test_a_change_rolled_back_leaves_no_event(db: asyncpg.Pool) -> None:
    """The trigger writes in the changing transaction: a preview's sending (stored, then rolled back) is never
    announced."""
    async with db.acquire() as conn:
        lc_id = await create_lc_row(conn, "relay-rollback")
        transaction = conn.transaction()
        await transaction.start()
        await create_sms_audience_sending(conn, lc_id, EVERYONE)
        assert await conn.fetchval("SELECT count(*) FROM sending_status_outbox") == 1, "seen inside the transaction"
        await transaction.rollback()
    assert await db.fetchval("SELECT count(*) FROM sending_status_outbox") == 0
