"""Receipts: stored in the inbox before the provider is answered, then applied to their dispatches in bulk.

The webhook's 2xx means the receipt is in Postgres; `delivery.status` only announces it, and the consumer of
that topic applies the announced receipts at once. A receipt that cannot be applied yet (its dispatch is in
flight, or not known) waits in the inbox and is tried again with backoff by `retry_waiting_receipts`, the
inbox's own loop, which also picks up receipts whose announcement was lost; one still unmatched after
`receipt_match_timeout_seconds` is dropped with a metric and a log line. No broker failure can lose a receipt.
"""

import asyncio
from collections import Counter
from collections.abc import Sequence

import asyncpg
import structlog
from faststream.kafka import KafkaBroker

from delivery_receipts import repository
from delivery_receipts.config import ReceiptsSettings
from delivery_receipts.receipts import Malformed, Receipt, decide
from shared.db import Conn
from shared.domain import DeliveryStatus
from shared.events import DeliveryStatusReceived
from shared.metrics import DISPATCHES_DELIVERED, RECEIPTS_APPLIED, RECEIPTS_MALFORMED, RECEIPTS_WAITING
from shared.preparation.planning import CONSENT_BY_CHANNEL
from shared.unit_of_work import UnitOfWork
from shared.unsubscribe import Unsubscription

log = structlog.get_logger(__name__)

GROUP = 1000  # receipts applied per transaction
PURGE_EVERY_SECONDS = 60.0


async def store_receipts(pool: asyncpg.Pool, receipts: Sequence[Receipt]) -> list[tuple[int, Receipt]]:
    """Store receipts in the inbox (a report stored before counts as a duplicate); returns the new ones."""
    if not receipts:
        return []
    async with pool.acquire() as conn, conn.transaction():
        stored, duplicates = await _store(conn, receipts)
    count_outcomes(duplicates)
    return stored


async def accept_receipts(pool: asyncpg.Pool, broker: KafkaBroker, receipts: Sequence[Receipt]) -> None:
    """A webhook's receipts: stored in the inbox, then the new ones announced without waiting for the broker
    (they are safe in Postgres, and the inbox's own loop picks up any whose announcement is lost)."""
    if not receipts:
        return
    async with UnitOfWork(pool, broker, background=True) as uow:
        stored, duplicates = await _store(uow.conn, receipts)
        uow.publish(*_announcements(stored))
    count_outcomes(duplicates)


async def _store(conn: Conn, receipts: Sequence[Receipt]) -> tuple[list[tuple[int, Receipt]], Counter[tuple[str, str]]]:
    stored = await repository.insert_receipts(conn, receipts)
    duplicates = Counter((r.provider, "duplicate") for r in receipts) - Counter(
        (r.provider, "duplicate") for _, r in stored
    )
    await repository.record_outcomes(conn, duplicates)
    return stored, duplicates


async def count_foreign(pool: asyncpg.Pool, provider: str) -> None:
    """A receipt of another account of ours at the provider: dropped, and counted."""
    foreign = Counter({(provider, "foreign"): 1})
    async with pool.acquire() as conn:
        await repository.record_outcomes(conn, foreign)
    count_outcomes(foreign)


def count_malformed(malformed: Sequence[Malformed], provider: str = "sendgrid") -> None:
    """Reports of a batch that could not be read: dropped, each logged and counted (the rest of the batch was
    stored). Not in `receipt_counts`: they never became receipts."""
    for report in malformed:
        log.warning("receipt_malformed", provider=provider, index=report.index, reason=report.reason,
                    event_key=report.event_key)  # fmt: skip
    if malformed:
        RECEIPTS_MALFORMED.labels(provider).inc(len(malformed))


def _announcements(stored: Sequence[tuple[int, Receipt]]) -> list[DeliveryStatusReceived]:
    """The consumer's doorbell for stored receipts: each carries its inbox id."""
    return [
        DeliveryStatusReceived(
            provider=r.provider,
            provider_message_id=r.provider_message_id,
            status=r.status,
            external_status=r.external_status,
            reported_at=r.reported_at,
            receipt_id=receipt_id,
            dispatch_id=r.dispatch_id,
        )
        for receipt_id, r in stored
    ]


async def on_announced(
    pool: asyncpg.Pool, settings: ReceiptsSettings, events: Sequence[DeliveryStatusReceived]
) -> Counter[str]:
    """Apply announced receipts. An event that carries its receipt rather than an inbox id (published by an
    older version, or by another service) is stored first."""
    ids = [e.receipt_id for e in events if e.receipt_id is not None]
    carried = [_receipt_of(e) for e in events if e.receipt_id is None]
    ids += [receipt_id for receipt_id, _ in await store_receipts(pool, carried)]
    return await apply_receipts(pool, settings, ids)


def _receipt_of(event: DeliveryStatusReceived) -> Receipt:
    return Receipt(
        provider=event.provider,
        event_key=f"{event.provider_message_id}:{event.external_status}",
        provider_message_id=event.provider_message_id,
        status=event.status,
        external_status=event.external_status,
        reported_at=event.reported_at,
        dispatch_id=event.dispatch_id,
    )


async def apply_receipts(pool: asyncpg.Pool, settings: ReceiptsSettings, ids: Sequence[int] | None) -> Counter[str]:
    """Apply the inbox's receipts `ids` (None: those whose next try is due, a group at most) in one transaction.
    Returns how many were applied, settled an ambiguous dispatch, were stale, or still wait."""
    async with pool.acquire() as conn, conn.transaction():
        if ids is None:
            receipts = await repository.take_due_receipts(conn, GROUP)
        else:
            receipts = await repository.take_receipts(conn, ids)
        if not receipts:
            return Counter()
        dispatches = await repository.lock_dispatches(conn, receipts)
        decision = decide(receipts, dispatches)
        await repository.apply_changes(conn, decision.changes)
        await repository.close_receipts(conn, decision.closed)
        await repository.postpone_receipts(
            conn, decision.waiting, settings.receipt_retry_base_seconds, settings.receipt_retry_max_seconds
        )
        outcomes = Counter((s.receipt.provider, decision.closed[s.id]) for s in receipts if s.id in decision.closed)
        await repository.record_outcomes(conn, outcomes)
    count_outcomes(outcomes)
    receipt_of = {s.id: s.receipt for s in receipts}
    for receipt_id, outcome in decision.closed.items():
        receipt = receipt_of[receipt_id]
        if outcome != "stale" and receipt.status != DeliveryStatus.PENDING:
            DISPATCHES_DELIVERED.labels(receipt.provider, receipt.status.value).inc()
    settled = [c.dispatch_id for c in decision.changes if c.settle]
    if settled:
        log.info("ambiguous_dispatches_settled_by_receipts", dispatch_ids=settled[:50], count=len(settled))
    counts = Counter(decision.closed.values())
    counts["waiting"] = len(decision.waiting)
    return counts


async def expire_unmatched(pool: asyncpg.Pool, settings: ReceiptsSettings) -> int:
    """Drop receipts that found no dispatch within `receipt_match_timeout_seconds`; each is logged and counted."""
    async with pool.acquire() as conn, conn.transaction():
        expired = await repository.expire_receipts(conn, settings.receipt_match_timeout_seconds, GROUP)
        outcomes = Counter((provider, "expired") for _, provider, _ in expired)
        await repository.record_outcomes(conn, outcomes)
    count_outcomes(outcomes)
    for receipt_id, provider, message_id in expired:
        log.warning(
            "receipt_expired_unmatched", receipt_id=receipt_id, provider=provider, provider_message_id=message_id
        )
    return len(expired)


async def retry_waiting_receipts(pool: asyncpg.Pool, settings: ReceiptsSettings) -> None:
    """The inbox's own loop: apply due receipts, expire the hopeless ones, forget old ones (for ever)."""
    loop = asyncio.get_running_loop()
    last_purge = 0.0
    while True:
        while sum((await apply_receipts(pool, settings, None)).values()) >= GROUP:
            pass  # a full group: there may be more due at once
        while await expire_unmatched(pool, settings) >= GROUP:
            pass
        async with pool.acquire() as conn:
            RECEIPTS_WAITING.set(await repository.count_waiting_receipts(conn))
            if loop.time() - last_purge >= PURGE_EVERY_SECONDS:
                await repository.delete_old_receipts(conn, settings.receipts_keep_hours * 3600, 10 * GROUP)
                last_purge = loop.time()
        await asyncio.sleep(settings.receipts_retry_seconds)


def count_outcomes(outcomes: Counter[tuple[str, str]]) -> None:
    """The metric of the receipts' outcomes; called once the transaction that recorded them committed."""
    for (provider, outcome), n in outcomes.items():
        RECEIPTS_APPLIED.labels(provider, outcome).inc(n)


async def unsubscribe(pool: asyncpg.Pool, target: Unsubscription) -> None:
    """Withdraw the member's marketing consent for the link's channel: the preparer suppresses it from then on.
    Idempotent: a link used twice (a mail client and then the reader) withdraws once."""
    consent = CONSENT_BY_CHANNEL[target.channel]
    async with pool.acquire() as conn:
        withdrawn = await repository.withdraw_consent(conn, target.loyalty_club_id, target.member_id, consent)
    log.info("consent_withdrawn" if withdrawn else "consent_already_withdrawn", lc_id=target.loyalty_club_id,
             member_id=target.member_id, consent=consent)  # fmt: skip
