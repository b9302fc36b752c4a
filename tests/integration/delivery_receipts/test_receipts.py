"""The receipts inbox: receipts stored before the provider is answered, applied in bulk, only ever forwards.

Duplicates, reverse order and late reports leave every dispatch in the right final state; a receipt that beats
the record of its dispatch waits and is applied once the record is there; one for an `ambiguous_outcome`
dispatch settles it; one that never matches expires; and what happened to each receipt is counted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import asyncpg
from tests.seed import create_lc_row

from delivery_receipts.config import ReceiptsSettings
from delivery_receipts.receipts import Receipt
from delivery_receipts.service import apply_receipts, expire_unmatched, store_receipts
from shared.domain import DeliveryStatus, DispatchId

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
SETTINGS = ReceiptsSettings(receipt_retry_base_seconds=0.01, receipt_retry_max_seconds=0.01)
PENDING, DELIVERED, FAILED = DeliveryStatus.PENDING, DeliveryStatus.DELIVERED, DeliveryStatus.FAILED


def receipt(message_id: str, status: DeliveryStatus, raw: str, seconds: int, dispatch_id: int | None = None) -> Receipt:
    return Receipt(provider="twilio", event_key=f"{message_id}:{raw}", provider_message_id=message_id, status=status,
                   external_status=raw, reported_at=T0 + timedelta(seconds=seconds),
                   dispatch_id=None if dispatch_id is None else DispatchId(dispatch_id))  # fmt: skip


async def deliver(db: asyncpg.Pool, receipts: list[Receipt]) -> Counter[str]:
    """As the webhook and the consumer do: store, then apply what was stored."""
    stored = await store_receipts(db, receipts)
    return await apply_receipts(db, SETTINGS, [receipt_id for receipt_id, _ in stored])


async def dispatch_rows(db: asyncpg.Pool, rows: Sequence[tuple[str, str, str | None, str | None]]) -> dict[str, int]:
    """Dispatches (recipient key, transmission status, error, provider message id) of one LC; ids by key."""
    async with db.acquire() as conn:
        lc_id = await create_lc_row(conn, "lc")
        inserted = await conn.fetch(
            "INSERT INTO dispatches (sending_id, loyalty_club_id, recipient_key, type, transmission_status, error, "
            "provider, provider_message_id, claimed_until) "
            "SELECT 1, $1, k, 'sms', s, e, 'twilio', m, CASE WHEN s = 'scheduled' THEN now() + interval '1 minute' END "
            "FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS r(k, s, e, m) RETURNING id, recipient_key",
            lc_id, [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], [r[3] for r in rows],
        )  # fmt: skip
    return {r["recipient_key"]: r["id"] for r in inserted}


async def states(db: asyncpg.Pool) -> dict[str, tuple[str, str, str | None]]:
    rows = await db.fetch(
        "SELECT recipient_key, transmission_status, delivery_status, external_delivery_status FROM dispatches"
    )
    return {r["recipient_key"]: (r["transmission_status"], r["delivery_status"], r["external_delivery_status"])
            for r in rows}  # fmt: skip


async def counted(db: asyncpg.Pool) -> dict[str, int]:
    rows = await db.fetch("SELECT outcome, count FROM receipt_counts WHERE provider = 'twilio'")
    return {r["outcome"]: r["count"] for r in rows}


async def test_receipts_twice_in_reverse_order_or_late_leave_the_right_final_states(db: asyncpg.Pool) -> None:
    sent = [(f"k{i}", "transmitted", None, f"SM{i}") for i in range(1, 6)]
    await dispatch_rows(db, sent)
    first = [
        receipt("SM1", DELIVERED, "delivered", 3),  # SM1: delivered arrives before the earlier "sent"
        receipt("SM1", PENDING, "sent", 1),
        receipt("SM2", FAILED, "undelivered", 2),  # SM2: twice in the batch
        receipt("SM2", FAILED, "undelivered", 2),
        receipt("SM3", PENDING, "sent", 1),  # SM3: only interim so far
        receipt("SM4", DELIVERED, "delivered", 1),
    ]
    assert await deliver(db, first) == {"applied": 4, "stale": 1, "waiting": 0}
    second = [
        receipt("SM1", FAILED, "failed", 9),  # a late contradiction: final stays final
        receipt("SM2", FAILED, "undelivered", 2),  # the same report again, in a later batch: a duplicate
        receipt("SM3", DELIVERED, "delivered", 5),  # the final word after the interim one
        receipt("SM5", DELIVERED, "delivered", 1),
    ]
    assert await deliver(db, second) == {"applied": 2, "stale": 1, "waiting": 0}
    assert await states(db) == {
        "k1": ("transmitted", "delivered", "delivered"),
        "k2": ("transmitted", "failed", "undelivered"),
        "k3": ("transmitted", "delivered", "delivered"),
        "k4": ("transmitted", "delivered", "delivered"),
        "k5": ("transmitted", "delivered", "delivered"),
    }
    assert await counted(db) == {"applied": 6, "stale": 2, "duplicate": 2}


async def test_a_receipt_that_beats_the_record_of_its_dispatch_waits_and_is_applied_once_the_record_is_there(
    db: asyncpg.Pool,
) -> None:
    ids = await dispatch_rows(db, [("early", "scheduled", None, None), ("known", "scheduled", None, None)])
    # The provider reports before the transmitter recorded its answer: one names our dispatch id, one does not.
    named = receipt("SM-early", DELIVERED, "delivered", 1, dispatch_id=ids["early"])
    anonymous = receipt("SM-known", DELIVERED, "delivered", 1)
    assert await deliver(db, [named, anonymous]) == {"waiting": 2}
    assert await states(db) == {"early": ("scheduled", "pending", None), "known": ("scheduled", "pending", None)}
    await db.execute(  # the transmitter records the provider's answers
        "UPDATE dispatches SET transmission_status = 'transmitted', provider_message_id = 'SM-' || recipient_key, "
        "claimed_until = NULL"
    )
    applied = await apply_receipts(db, SETTINGS, [r["id"] for r in await db.fetch("SELECT id FROM receipts_inbox")])
    assert applied == {"applied": 2, "waiting": 0}
    assert await states(db) == {
        "early": ("transmitted", "delivered", "delivered"),
        "known": ("transmitted", "delivered", "delivered"),
    }


async def test_the_inbox_tries_waiting_receipts_again_by_itself_with_backoff(db: asyncpg.Pool) -> None:
    ids = await dispatch_rows(db, [("k", "scheduled", None, None)])
    await deliver(db, [receipt("SM-k", DELIVERED, "delivered", 1, dispatch_id=ids["k"])])
    await db.execute("UPDATE receipts_inbox SET next_attempt_at = now()")  # its announcement was lost
    assert await apply_receipts(db, SETTINGS, None) == {"waiting": 1}
    attempts = await db.fetchval("SELECT attempts FROM receipts_inbox")
    assert attempts == 2, "tried at its announcement, then by the inbox's own loop"
    await db.execute("UPDATE dispatches SET transmission_status = 'transmitted', provider_message_id = 'SM-k'")
    await db.execute("UPDATE receipts_inbox SET next_attempt_at = now()")
    assert await apply_receipts(db, SETTINGS, None) == {"applied": 1, "waiting": 0}
    assert await states(db) == {"k": ("transmitted", "delivered", "delivered")}


async def test_a_receipt_for_an_ambiguous_dispatch_settles_it_as_transmitted(db: asyncpg.Pool) -> None:
    ids = await dispatch_rows(
        db, [("timed-out", "failed", "ambiguous_outcome", None), ("rejected", "failed", "provider_rejected", None)]
    )
    receipts = [
        receipt("SM-late", PENDING, "sent", 2, dispatch_id=ids["timed-out"]),
        receipt("SM-late", DELIVERED, "delivered", 4, dispatch_id=ids["timed-out"]),
        receipt("SM-odd", DELIVERED, "delivered", 4, dispatch_id=ids["rejected"]),
    ]
    assert await deliver(db, receipts) == {"settled": 1, "stale": 2, "waiting": 0}
    row = await db.fetchrow(
        "SELECT transmission_status, error, provider_message_id, transmitted_at, delivery_status, delivered_at "
        "FROM dispatches WHERE id = $1",
        ids["timed-out"],
    )
    assert row is not None
    assert dict(row) == {
        "transmission_status": "transmitted", "error": None, "provider_message_id": "SM-late",
        "transmitted_at": T0 + timedelta(seconds=2), "delivery_status": "delivered",
        "delivered_at": T0 + timedelta(seconds=4),
    }  # fmt: skip
    assert (await states(db))["rejected"] == ("failed", "pending", None)


async def test_a_dispatch_id_that_came_back_with_another_message_id_matches_nothing(db: asyncpg.Pool) -> None:
    ids = await dispatch_rows(db, [("k", "transmitted", None, "SM-real")])
    forged = receipt("SM-other", FAILED, "failed", 1, dispatch_id=ids["k"])
    assert await deliver(db, [forged]) == {"waiting": 1}
    assert await states(db) == {"k": ("transmitted", "pending", None)}


async def test_a_receipt_never_matched_expires_with_a_count(db: asyncpg.Pool) -> None:
    await deliver(db, [receipt("SM-nobody", DELIVERED, "delivered", 1)])
    assert await expire_unmatched(db, SETTINGS) == 0, "not yet: it is young"
    await db.execute("UPDATE receipts_inbox SET received_at = now() - interval '25 hours'")
    assert await expire_unmatched(db, SETTINGS) == 1
    assert await db.fetchval("SELECT outcome FROM receipts_inbox") == "expired"
    assert await apply_receipts(db, SETTINGS, None) == {}
    assert (await counted(db))["expired"] == 1
