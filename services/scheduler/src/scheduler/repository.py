"""SQL of the scheduler: due sendings, deadlines, work stuck in a stage, the sending.status outbox, and the LISTEN
that wakes its loops."""

import asyncio
from collections.abc import Mapping
from datetime import datetime
from typing import NamedTuple
from uuid import UUID

import asyncpg
import structlog

from shared.db import Conn
from shared.domain import DispatchId, SendingId

log = structlog.get_logger(__name__)


async def claim_due_sendings(conn: Conn, limit: int, lead_seconds: float) -> list[SendingId]:
    """Move due sendings `scheduled → preparing`, highest priority then earliest first; other schedulers skip them."""
    rows = await conn.fetch(
        """
        WITH due AS (
            SELECT id FROM sendings
            WHERE status = 'scheduled'
              AND scheduled_at <= now() + CASE WHEN prescheduled THEN make_interval(secs => $2)
                                              ELSE interval '0' END
            ORDER BY coalesce(priority, 5) DESC, scheduled_at, id
            LIMIT $1
            FOR UPDATE SKIP LOCKED
        )
        UPDATE sendings s SET status = 'preparing', status_changed_at = now(), updated_at = now()
        FROM due WHERE s.id = due.id
        RETURNING s.id
        """,
        limit,
        lead_seconds,
    )
    return [SendingId(r["id"]) for r in rows]


async def next_due_time(conn: Conn, lead_seconds: float) -> datetime | None:
    """When the next scheduled sending becomes due."""
    due: datetime | None = await conn.fetchval(
        "SELECT min(scheduled_at - CASE WHEN prescheduled THEN make_interval(secs => $1) ELSE interval '0' END) "
        "FROM sendings WHERE status = 'scheduled'",
        lead_seconds,
    )
    return due


async def fail_overdue_sendings(conn: Conn, deadline_seconds: float) -> list[SendingId]:
    """Sendings not finished `deadline_seconds` after their time end `failed` (spec §2.2)."""
    rows = await conn.fetch(
        "UPDATE sendings SET status = 'failed', status_changed_at = now(), updated_at = now() "
        "WHERE status IN ('scheduled', 'preparing', 'prepared', 'transmitting') "
        "AND scheduled_at < now() - make_interval(secs => $1) RETURNING id",
        deadline_seconds,
    )
    return [SendingId(r["id"]) for r in rows]


async def take_stalled_preparations(conn: Conn, lease_seconds: float) -> list[SendingId]:
    """Preparing sendings without progress (none of their ranges moved) for a lease; one re-drive per lease."""
    rows = await conn.fetch(
        "UPDATE sendings SET updated_at = now() "
        "WHERE status = 'preparing' AND updated_at < now() - make_interval(secs => $1) "
        "AND NOT EXISTS (SELECT 1 FROM preparation_ranges r WHERE r.sending_id = sendings.id "
        "                AND r.updated_at >= now() - make_interval(secs => $1)) RETURNING id",
        lease_seconds,
    )
    return [SendingId(r["id"]) for r in rows]


async def take_stalled_transmissions(conn: Conn, lease_seconds: float) -> list[SendingId]:
    """Sendings with dispatches left to send (or, once stopped, to fail) and no progress for a while.

    A due sending past preparation counts when it made no progress since it became due or for a lease;
    a cancelled or failed one when it still has unsent dispatches, so the transmitter fails them.
    """
    rows = await conn.fetch(
        "UPDATE sendings s SET updated_at = now() "
        "WHERE ((s.status IN ('prepared', 'transmitting') AND s.scheduled_at <= now() "
        "        AND (s.updated_at < s.scheduled_at OR s.updated_at < now() - make_interval(secs => $1))) "
        "    OR (s.status IN ('cancelled', 'failed') AND s.updated_at < now() - make_interval(secs => $1) "
        "        AND EXISTS (SELECT 1 FROM dispatches d WHERE d.sending_id = s.id "
        "                    AND d.transmission_status = 'scheduled' AND d.claimed_until IS NULL))) "
        "RETURNING s.id",
        lease_seconds,
    )
    return [SendingId(r["id"]) for r in rows]


async def unclaimed_dispatch_ids(conn: Conn, sending_id: SendingId, limit: int) -> list[DispatchId]:
    rows = await conn.fetch(
        "SELECT id FROM dispatches WHERE sending_id = $1 AND transmission_status = 'scheduled' "
        "AND claimed_until IS NULL ORDER BY id LIMIT $2",
        sending_id,
        limit,
    )
    return [DispatchId(r["id"]) for r in rows]


async def fail_expired_claims(conn: Conn) -> list[SendingId]:
    """A claim that expired without an outcome means the provider call's outcome is unknown (its transmitter
    died): fail, never resend. A receipt naming the dispatch settles it later."""
    rows = await conn.fetch(
        "WITH expired AS (UPDATE dispatches SET transmission_status = 'failed', error = 'ambiguous_outcome', "
        "claimed_until = NULL, updated_at = now() "
        "WHERE claimed_until IS NOT NULL AND claimed_until < now() AND transmission_status = 'scheduled' "
        "RETURNING sending_id) SELECT DISTINCT sending_id FROM expired"
    )
    return [SendingId(r["sending_id"]) for r in rows]


async def wipe_expired_dispatches(conn: Conn, batch_size: int, default_days: int) -> int:
    """Wipe the content and identifiers of up to `batch_size` dispatches older than their LC's retention
    (`settings.retention_days`, else `default_days`) and stamp `cleaned_at`; returns how many."""
    result: str = await conn.execute(
        """
        WITH expired AS (
            SELECT d.id FROM dispatches d JOIN loyalty_clubs l ON l.id = d.loyalty_club_id
            WHERE d.cleaned_at IS NULL
              AND d.created_at < now() - make_interval(days => coalesce((l.settings->>'retention_days')::int, $2))
            LIMIT $1 FOR UPDATE OF d SKIP LOCKED
        )
        UPDATE dispatches d SET content = NULL, msisdn = NULL, email = NULL, app_token = NULL,
            cleaned_at = now(), updated_at = now()
        FROM expired WHERE d.id = expired.id
        """,
        batch_size,
        default_days,
    )
    return int(result.rsplit(maxsplit=1)[-1])


# One relay publishes at a time, cluster-wide, so the events of one sending leave in their order.
_STATUS_RELAY_LOCK = 7_262_010_002


class StatusChange(NamedTuple):
    """One row of the sending.status outbox, with what its event says of the sending."""

    outbox_id: int
    event_id: UUID
    occurred_at: datetime
    sequence: int
    status: str
    previous_status: str | None
    sending_id: SendingId
    message_id: int
    request_id: str | None
    suppressed_count: int | None
    unreachable_count: int | None
    service: str
    lc: str


async def lock_status_relay(conn: Conn) -> bool:
    """Hold the relay's lock until the transaction ends; False when another relay holds it."""
    locked: bool = await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", _STATUS_RELAY_LOCK)
    return locked


async def take_status_changes(conn: Conn, limit: int) -> list[StatusChange]:
    """The oldest unpublished status changes, in the order they were made."""
    rows = await conn.fetch(
        "SELECT o.id, o.event_id, o.occurred_at, o.sequence, o.status, o.previous_status, o.sending_id, "
        "s.message_id, s.request_id, s.suppressed_count, s.unreachable_count, m.service, lc.slug "
        "FROM sending_status_outbox o JOIN sendings s ON s.id = o.sending_id "
        "JOIN messages m ON m.id = s.message_id JOIN loyalty_clubs lc ON lc.id = s.loyalty_club_id "
        "ORDER BY o.id LIMIT $1",
        limit,
    )
    return [StatusChange(*r) for r in rows]


async def forget_status_changes(conn: Conn, outbox_ids: list[int]) -> None:
    """Published and confirmed by the broker: out of the outbox."""
    await conn.execute("DELETE FROM sending_status_outbox WHERE id = ANY($1)", outbox_ids)


async def listen(url: str, wakes: Mapping[str, asyncio.Event]) -> None:
    """Set the event of a channel on every NOTIFY on it (`wakes`: channel → event); reconnect if the connection
    drops (the loops poll too, which covers the gap)."""
    while True:
        try:
            conn = await asyncpg.connect(url)
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("listen_connect_failed", error=repr(exc)[:200])
            await asyncio.sleep(1)
            continue
        lost = asyncio.Event()
        try:
            conn.add_termination_listener(lambda _, event=lost: event.set())
            for channel, wake in wakes.items():
                await conn.add_listener(channel, lambda *_, event=wake: event.set())
                wake.set()  # anything notified while we were not listening is picked up now
            await lost.wait()
            log.warning("listen_connection_lost")
        finally:
            await conn.close()
