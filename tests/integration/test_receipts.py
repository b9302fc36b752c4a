"""Receipts applied in bulk: duplicates, reverse order, late reports and unknown messages leave every dispatch
in the right final state, and what happened to each receipt is counted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
from tests.seed import create_lc_row

from delivery_receipts.service import apply_delivery_statuses
from shared.domain import DeliveryStatus
from shared.events import DeliveryStatusReceived

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def receipt(message_id: str, status: DeliveryStatus, raw: str, seconds: int) -> DeliveryStatusReceived:
    return DeliveryStatusReceived(provider="twilio", provider_message_id=message_id, status=status, external_status=raw,
                                  reported_at=T0 + timedelta(seconds=seconds))  # fmt: skip


async def test_receipts_twice_in_reverse_order_or_unknown_leave_the_right_final_states(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        lc_a, lc_b = await create_lc_row(conn, "lc-a"), await create_lc_row(conn, "lc-b")
        await conn.executemany(
            "INSERT INTO dispatches (sending_id, loyalty_club_id, recipient_key, type, transmission_status, "
            "provider, provider_message_id) VALUES (1, $1, $2, 'sms', 'transmitted', 'twilio', $3)",
            [(lc_a, "k1", "SM1"), (lc_a, "k2", "SM2"), (lc_a, "k3", "SM3"), (lc_b, "k4", "SM4"), (lc_a, "k5", "SM5")],
        )
    pending, delivered, failed = DeliveryStatus.PENDING, DeliveryStatus.DELIVERED, DeliveryStatus.FAILED
    first = [
        receipt("SM1", delivered, "delivered", 3),  # SM1: delivered arrives before the earlier "sent"
        receipt("SM1", pending, "sent", 1),
        receipt("SM2", failed, "undelivered", 2),  # SM2: twice in the batch
        receipt("SM2", failed, "undelivered", 2),
        receipt("SM3", pending, "sent", 1),  # SM3: only interim so far
        receipt("SM4", delivered, "delivered", 1),  # SM4: the other LC's message, its own receipt
        receipt("SM9", delivered, "delivered", 1),  # nobody's message
    ]
    counts = await apply_delivery_statuses(db, first)
    assert counts == {"applied": 4, "stale": 2, "unknown": 1}
    second = [
        receipt("SM1", failed, "failed", 9),  # a late contradiction: final stays final
        receipt("SM2", failed, "undelivered", 2),  # the same receipt again, in a later batch
        receipt("SM3", delivered, "delivered", 5),  # the final word after the interim one
        receipt("SM5", delivered, "delivered", 1),
    ]
    counts = await apply_delivery_statuses(db, second)
    assert counts == {"applied": 2, "stale": 2}
    rows = await db.fetch("SELECT provider_message_id, delivery_status, external_delivery_status FROM dispatches")
    assert {r["provider_message_id"]: (r["delivery_status"], r["external_delivery_status"]) for r in rows} == {
        "SM1": ("delivered", "delivered"),
        "SM2": ("failed", "undelivered"),
        "SM3": ("delivered", "delivered"),
        "SM4": ("delivered", "delivered"),
        "SM5": ("delivered", "delivered"),
    }
    recorded = await db.fetch("SELECT outcome, count FROM receipt_counts WHERE provider = 'twilio'")
    assert {r["outcome"]: r["count"] for r in recorded} == {"applied": 6, "stale": 4, "unknown": 1}
