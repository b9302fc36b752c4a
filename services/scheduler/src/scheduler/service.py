"""The scheduler's decisions: start due sendings, fail overdue ones, re-drive work whose doorbell was lost."""

import asyncio
import contextlib
from datetime import datetime

import asyncpg
import structlog
from faststream.kafka import KafkaBroker

from scheduler import repository
from scheduler.config import SchedulerSettings
from shared import ledger_repository
from shared.events import MAX_DISPATCHES_PER_EVENT, DispatchesPrepared, Event, SendingScheduled, SendingStatusChanged
from shared.formats import utcnow
from shared.kafka import publish_events
from shared.ledger import Stats
from shared.outages import UNAVAILABLE
from shared.unit_of_work import UnitOfWork

log = structlog.get_logger(__name__)

# At most this many batches are re-announced per sending and pass, so one huge sending cannot flood Kafka.
REDRIVE_BATCHES_PER_SENDING = 20


async def schedule_due_sendings(pool: asyncpg.Pool, broker: KafkaBroker, settings: SchedulerSettings) -> int:
    """Claim every due sending (committed first), then ring the preparer's doorbell for each."""
    total = 0
    while True:
        async with UnitOfWork(pool, broker) as uow:
            ids = await repository.claim_due_sendings(
                uow.conn, settings.scheduler_batch_size, settings.prescheduled_lead_seconds
            )
            uow.publish(*(SendingScheduled(sending_id=i) for i in ids))
        if not ids:
            return total
        log.info("sendings_scheduled", sending_ids=ids)
        total += len(ids)


async def redrive_stalled_work(pool: asyncpg.Pool, broker: KafkaBroker, settings: SchedulerSettings) -> None:
    """Fail overdue sendings and expired claims; publish again the events of work that made no progress."""
    async with UnitOfWork(pool, broker, atomic=False) as uow:  # each statement commits on its own
        conn = uow.conn
        failed = await repository.fail_overdue_sendings(conn, settings.sending_deadline_seconds)
        ambiguous = await repository.fail_expired_claims(conn)
        preparations = await repository.take_stalled_preparations(conn, settings.stage_lease_seconds)
        transmissions = await repository.take_stalled_transmissions(conn, settings.stage_lease_seconds)
        events: list[Event] = [SendingScheduled(sending_id=i) for i in preparations]
        for sending_id in {*transmissions, *ambiguous}:
            ids = await repository.unclaimed_dispatch_ids(
                conn, sending_id, MAX_DISPATCHES_PER_EVENT * REDRIVE_BATCHES_PER_SENDING
            )
            chunks = [ids[i : i + MAX_DISPATCHES_PER_EVENT] for i in range(0, len(ids), MAX_DISPATCHES_PER_EVENT)]
            # An empty batch still lets the transmitter see that nothing is left and finish the sending.
            events += [DispatchesPrepared(sending_id=sending_id, dispatch_ids=c) for c in chunks or [[]]]
        uow.publish(*events)
    if failed or ambiguous or events:
        log.info(
            "stalled_work_redriven",
            failed_sendings=failed,
            ambiguous_sendings=ambiguous,
            preparations=preparations,
            transmissions=transmissions,
            events=len(events),
        )


async def _seconds_until_next_due(pool: asyncpg.Pool, settings: SchedulerSettings) -> float:
    async with pool.acquire() as conn:
        due: datetime | None = await repository.next_due_time(conn, settings.prescheduled_lead_seconds)
    if due is None:
        return settings.scheduler_poll_seconds
    return max(0.0, min(settings.scheduler_poll_seconds, (due - utcnow()).total_seconds()))


async def run_scheduler(
    pool: asyncpg.Pool, broker: KafkaBroker, settings: SchedulerSettings, wake: asyncio.Event
) -> None:
    """The scheduler loop: sleeps until the next due sending, the poll interval, or a NOTIFY from the api."""
    last_redrive = 0.0
    loop = asyncio.get_running_loop()
    while True:
        wake.clear()
        try:
            await schedule_due_sendings(pool, broker, settings)
            if loop.time() - last_redrive >= settings.redrive_interval_seconds:
                await redrive_stalled_work(pool, broker, settings)
                last_redrive = loop.time()
            timeout = await _seconds_until_next_due(pool, settings)
        except UNAVAILABLE as exc:  # the next pass tries again; Postgres still says what is due
            log.warning("scheduler_pass_failed", error=repr(exc)[:300])
            timeout = settings.scheduler_poll_seconds
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), timeout)


def _status_event(change: repository.StatusChange, stats: Stats) -> SendingStatusChanged:
    return SendingStatusChanged(
        event_id=change.event_id, occurred_at=change.occurred_at, sequence=change.sequence, lc=change.lc,
        service=change.service, message_id=change.message_id, sending_id=change.sending_id,
        request_id=change.request_id, status=change.status, previous_status=change.previous_status, stats=stats,
    )  # fmt: skip


async def relay_status_changes(pool: asyncpg.Pool, broker: KafkaBroker, batch_size: int) -> int:
    """Publish the oldest status changes of the outbox as sending.status, then delete them; returns how many.

    The outbox's rule, the other way round from UnitOfWork's: the change is already committed (by the trigger,
    with the change itself), so here the event leaves first and its row goes only once the broker confirmed. A
    crash in between publishes it again, with the same event id. The transaction holds the relay's lock, so
    with several schedulers one publishes at a time and a sending's events keep their order."""
    async with pool.acquire() as conn, conn.transaction():
        if not await repository.lock_status_relay(conn):
            return 0
        changes = await repository.take_status_changes(conn, batch_size)
        if not changes:
            return 0
        counts = {c.sending_id: (c.suppressed_count, c.unreachable_count) for c in changes}
        stats = await ledger_repository.ledgers(conn, counts)
        await publish_events(broker, [_status_event(c, stats[c.sending_id]) for c in changes])
        await repository.forget_status_changes(conn, [c.outbox_id for c in changes])
    return len(changes)


async def run_status_relay(
    pool: asyncpg.Pool, broker: KafkaBroker, settings: SchedulerSettings, wake: asyncio.Event
) -> None:
    """The sending.status relay: woken by the outbox's NOTIFY, and every `status_relay_poll_seconds` anyway."""
    while True:
        wake.clear()
        try:
            while await relay_status_changes(pool, broker, settings.status_relay_batch_size) == (
                settings.status_relay_batch_size
            ):
                pass  # a full batch: there may be more
        except UNAVAILABLE as exc:  # the outbox keeps them: the next pass publishes them
            log.warning("status_relay_pass_failed", error=repr(exc)[:300])
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), settings.status_relay_poll_seconds)


async def wipe_expired(pool: asyncpg.Pool, settings: SchedulerSettings) -> int:
    """Wipe every dispatch past its LC's retention, batch by batch (each its own short transaction)."""
    total = 0
    while True:
        async with pool.acquire() as conn:
            wiped = await repository.wipe_expired_dispatches(
                conn, settings.retention_batch_size, settings.retention_default_days
            )
        total += wiped
        if wiped < settings.retention_batch_size:
            if total:
                log.info("dispatches_wiped", count=total)
            return total


async def run_retention(pool: asyncpg.Pool, settings: SchedulerSettings) -> None:
    """The retention job: every `retention_interval_seconds`, on whichever scheduler replica runs it (batches
    skip rows another replica holds)."""
    while True:
        try:
            await wipe_expired(pool, settings)
        except UNAVAILABLE as exc:
            log.warning("retention_pass_failed", error=repr(exc)[:300])
        await asyncio.sleep(settings.retention_interval_seconds)
