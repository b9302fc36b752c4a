"""Preparation of a sending: split into ranges, stream each range's recipients in chunks, write, announce.

`sending.scheduled` starts a preparation: the sending is split once into range 0 (its inline recipients)
and ranges 1..n of the LC's members by id. This worker prepares range 0 itself (and the members' range
when there is only one) and announces the others with `preparation.range`, keyed so they spread over the
partitions, hence over the preparer replicas.
A range is read through a server-side cursor in chunks; each chunk is planned, rendered, written with
`COPY` and committed together with the range's cursor and counts, then announced with `dispatches.prepared`.
A crash loses at most the chunk in hand: the redelivered event resumes at the cursor, and a worker that
finds the cursor moved under it (another one took the range over) stops. The worker finishing the last
range moves the sending to `prepared` (or `skipped`) with the counts of all ranges.
"""

import asyncio
import contextlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import structlog
from faststream.kafka import KafkaBroker

from preparer import repository
from preparer.config import PreparerSettings
from preparer.repository import PreparationRange
from shared.db import Conn
from shared.domain import DispatchId, SendingId
from shared.events import MAX_DISPATCHES_PER_EVENT, DispatchesPrepared, PreparationRangeDue
from shared.metrics import DISPATCHES_PREPARED
from shared.preparation import repository as preparation_repository
from shared.preparation.planning import Channel, Plan, Recipient, SendingToPrepare, plan_dispatches
from shared.preparation.shortener import Shortener
from shared.unit_of_work import UnitOfWork

log = structlog.get_logger(__name__)


@dataclass
class Preparation:
    """What every chunk of one sending needs, loaded once per range."""

    sending: SendingToPrepare
    channels: list[Channel]
    inline_member_ids: set[int]
    shortener: Shortener | None


async def _load(conn: Conn, sending_id: SendingId, settings: PreparerSettings) -> Preparation | None:
    sending = await preparation_repository.get_sending_to_prepare(conn, sending_id)
    if sending is not None:
        structlog.contextvars.bind_contextvars(lc_id=sending.loyalty_club_id)
    if sending is None or sending.status != "preparing":
        log.info("preparation_not_needed", sending_id=sending_id, status=sending and sending.status)
        return None
    channels = await preparation_repository.load_channels(conn, sending.message_id)
    shortener = None
    if sending.shorten_urls:
        shortener = Shortener(sending_id, settings.short_link_base_url.rstrip("/"), sending.track_in_shortener)
    inline_members = await preparation_repository.get_inline_member_ids(conn, sending_id)
    return Preparation(sending, channels, inline_members, shortener)


def _announcements(sending_id: SendingId, dispatch_ids: Sequence[DispatchId]) -> list[DispatchesPrepared]:
    step = MAX_DISPATCHES_PER_EVENT
    return [
        DispatchesPrepared(sending_id=sending_id, dispatch_ids=list(dispatch_ids[i : i + step]))
        for i in range(0, len(dispatch_ids), step)
    ]


async def start_preparation(
    pool: asyncpg.Pool, broker: KafkaBroker, sending_id: SendingId, settings: PreparerSettings
) -> None:
    """Split the sending into ranges (once), prepare the inline one here and announce the members' ranges."""
    async with UnitOfWork(pool, broker) as uow:
        conn = uow.conn
        if not await repository.lock_preparing_sending(conn, sending_id, exclusive=True):
            log.info("preparation_not_needed", sending_id=sending_id)
            return
        ranges = await repository.get_ranges(conn, sending_id)
        if not ranges:
            sending = await preparation_repository.get_sending_to_prepare(conn, sending_id)
            assert sending is not None
            bounds: list[tuple[int, int]] = []
            if sending.audience_conditions is not None:
                bounds = await repository.split_members(conn, sending.loyalty_club_id, settings.preparer_range_size)
            await repository.create_ranges(conn, sending_id, bounds)
            ranges = await repository.get_ranges(conn, sending_id)
        pending = [r.range_no for r in ranges if not r.done]
        # The inline recipients are prepared here, and so is the members' range when there is only one (a small
        # sending takes no extra hop); several ranges are all announced, to spread over the replicas.
        mine, others = (
            (pending, []) if len(pending) <= 2 else ([n for n in pending if n == 0], [n for n in pending if n])
        )
        uow.publish(*(PreparationRangeDue(sending_id=sending_id, range_no=n) for n in others))
    if not pending:
        await _finish(pool, broker, sending_id)
        return
    for range_no in mine:
        await prepare_range(pool, broker, sending_id, range_no, settings)


async def prepare_range(
    pool: asyncpg.Pool, broker: KafkaBroker, sending_id: SendingId, range_no: int, settings: PreparerSettings
) -> None:
    """Prepare one range chunk by chunk from its cursor; the last range done finishes the sending."""
    async with pool.acquire() as conn:
        preparation = await _load(conn, sending_id, settings)
        range_ = await repository.get_range(conn, sending_id, range_no)
        if preparation is None or range_ is None or range_.done:
            return
        if range_no == repository.INLINE_RANGE:
            plan = await _plan_inline(conn, preparation)
            if not await _commit_chunk(pool, broker, preparation, range_, range_.cursor, range_.hi, plan, last=True):
                return
        elif not await _prepare_members(pool, broker, conn, preparation, range_, settings.preparer_chunk_size):
            return
    await _finish(pool, broker, sending_id)


async def _plan_inline(conn: Conn, preparation: Preparation) -> Plan:
    sending = preparation.sending
    recipients = await preparation_repository.load_inline_recipients(conn, sending.loyalty_club_id, sending.id)
    return plan_dispatches(sending, preparation.channels, recipients, preparation.shortener)


async def _prepare_members(
    pool: asyncpg.Pool,
    broker: KafkaBroker,
    read_conn: Conn,
    preparation: Preparation,
    range_: PreparationRange,
    chunk_size: int,
) -> bool:
    """Stream the range's audience members in chunks; False when the preparation stopped on the way."""
    sending = preparation.sending
    skip = preparation.inline_member_ids  # a member also listed inline is prepared with the inline ones
    assert sending.audience_conditions is not None, "member ranges exist only for a sending with an audience"
    chunks = preparation_repository.stream_audience(
        read_conn,
        sending.loyalty_club_id,
        sending.audience_conditions,
        range_.cursor,
        range_.hi,
        chunk_size,
    )
    # Three stages overlap: PostgreSQL reads the next chunk and writes the previous one while this one is
    # planned and rendered here. At most three chunks are in memory, whatever the audience size.
    reading: asyncio.Task[list[Mapping[str, Any]]] = asyncio.create_task(anext(chunks))
    writing: asyncio.Task[bool] | None = None
    committed = range_.cursor  # where the range will stand once the chunk being written is committed
    try:
        while True:
            rows = await reading
            last = len(rows) < chunk_size
            if not last:
                reading = asyncio.create_task(anext(chunks))
            recipients = (Recipient(properties={}, member_id=m["id"], member=m) for m in rows if m["id"] not in skip)
            plan = plan_dispatches(sending, preparation.channels, recipients, preparation.shortener)
            cursor = range_.hi if last else rows[-1]["id"]
            if writing is not None and not await writing:
                return False
            commit = _commit_chunk(pool, broker, preparation, range_, committed, cursor, plan, last)
            writing, committed = asyncio.create_task(commit), cursor
            if last:
                return await writing
    finally:
        for task in (reading, writing):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                    await task
        await chunks.aclose()


async def _commit_chunk(
    pool: asyncpg.Pool,
    broker: KafkaBroker,
    preparation: Preparation,
    range_: PreparationRange,
    start: int,
    cursor: int,
    plan: Plan,
    last: bool,
) -> bool:
    """Write one chunk (the range's members after `start` up to `cursor`) with its cursor and counts in one
    transaction, then announce it; False to stop."""
    sending_id = preparation.sending.id
    async with UnitOfWork(pool, broker) as uow:
        conn = uow.conn
        if not await repository.lock_preparing_sending(conn, sending_id):
            log.info("preparation_stopped", sending_id=sending_id, reason="no longer preparing")
            return False
        counts = (len(plan.rows), plan.unreachable, plan.suppressed)
        if not await repository.advance_range(conn, sending_id, range_.range_no, start, cursor, last, counts):
            log.info("preparation_stopped", sending_id=sending_id, reason="range taken over", range=range_.range_no)
            return False
        new_ids = await repository.copy_dispatches(conn, preparation.sending, plan.rows) if plan.rows else []
        if preparation.shortener is not None:
            await repository.insert_short_links(conn, sending_id, preparation.shortener.take_links())
        uow.publish(*_announcements(sending_id, new_ids))
    for channel, count in Counter(row.type for row in plan.rows).items():
        DISPATCHES_PREPARED.labels(channel).inc(count)
    return True


async def _finish(pool: asyncpg.Pool, broker: KafkaBroker, sending_id: SendingId) -> None:
    async with UnitOfWork(pool, broker) as uow:
        if not await repository.lock_preparing_sending(uow.conn, sending_id, exclusive=True):
            return
        status = await repository.finish_preparation(uow.conn, sending_id)
        if status == "prepared":  # an empty batch asks the transmitter to check whether the sending is complete
            uow.publish(DispatchesPrepared(sending_id=sending_id, dispatch_ids=[]))
    if status is not None:
        log.info("sending_prepared", sending_id=sending_id, status=status)
