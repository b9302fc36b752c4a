"""SQL of the transmitter: claim dispatches, record outcomes in bulk, move the sending along."""

from collections.abc import Sequence
from typing import Any

from shared.db import Conn
from shared.domain import MARKETING_SERVICES, DispatchId, SendingId
from transmitter.providers.base import SendResult


async def get_sending_state(conn: Conn, sending_id: SendingId) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        "SELECT s.loyalty_club_id, s.status, s.priority, s.scheduled_at <= now() AS due, "
        "s.deleted_at IS NOT NULL AS deleted, "
        "(SELECT coalesce(m.marketing, m.service = ANY($2)) FROM messages m WHERE m.id = s.message_id) AS marketing, "
        "(SELECT sender->>'value' FROM channels WHERE message_id = s.message_id AND type = 'sms') AS sms_sender "
        "FROM sendings s WHERE s.id = $1",
        sending_id,
        list(MARKETING_SERVICES),
    )
    return dict(row) if row else None


async def fail_unsent(conn: Conn, sending_id: SendingId, ids: Sequence[DispatchId], error: str) -> int:
    """Dispatches of a sending that stopped (cancelled, failed) are never transmitted."""
    result: str = await conn.execute(
        "UPDATE dispatches SET transmission_status = 'failed', error = $3, updated_at = now() "
        "WHERE sending_id = $1 AND id = ANY($2) AND transmission_status = 'scheduled' AND claimed_until IS NULL",
        sending_id,
        list(ids),
        error,
    )
    return int(result.rsplit(maxsplit=1)[-1])


async def start_transmitting(conn: Conn, sending_id: SendingId) -> None:
    await conn.execute(
        "UPDATE sendings SET status = 'transmitting', status_changed_at = now(), updated_at = now() "
        "WHERE id = $1 AND status = 'prepared'",
        sending_id,
    )


async def claim_dispatches(
    conn: Conn, sending_id: SendingId, ids: Sequence[DispatchId], lease_seconds: float
) -> list[dict[str, Any]]:
    """`scheduled → claimed` with a lease before any provider call; a claimed dispatch is never claimed again."""
    rows = await conn.fetch(
        "UPDATE dispatches SET claimed_until = now() + make_interval(secs => $3), updated_at = now() "
        "WHERE sending_id = $1 AND id = ANY($2) AND transmission_status = 'scheduled' AND claimed_until IS NULL "
        "RETURNING id, type, msisdn, email, app_token, content",
        sending_id,
        list(ids),
        lease_seconds,
    )
    return [dict(r) for r in rows]


async def record_results(conn: Conn, results: Sequence[SendResult]) -> None:
    """Mark every outcome of a batch in one statement; only dispatches still claimed are marked."""
    await conn.execute(
        """
        UPDATE dispatches d SET
            transmission_status = CASE WHEN r.error IS NULL THEN 'transmitted' ELSE 'failed' END,
            provider = r.provider, provider_message_id = r.message_id, error = r.error,
            transmitted_at = CASE WHEN r.error IS NULL THEN now() END,
            claimed_until = NULL, updated_at = now()
        FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[]) AS r(provider, id, message_id, error)
        WHERE d.id = r.id AND d.transmission_status = 'scheduled' AND d.claimed_until IS NOT NULL
        """,
        [r.provider for r in results],
        [r.dispatch_id for r in results],
        [r.provider_message_id for r in results],
        [r.error for r in results],
    )


async def clear_unregistered_tokens(conn: Conn, dispatch_ids: Sequence[DispatchId]) -> int:
    """The provider said these dispatches' app tokens are gone: their members lose them (unless changed since)."""
    if not dispatch_ids:
        return 0
    result: str = await conn.execute(
        "UPDATE members m SET app_token = NULL, updated_at = now() FROM dispatches d "
        "WHERE d.id = ANY($1) AND m.loyalty_club_id = d.loyalty_club_id AND m.id = d.member_id "
        "AND m.app_token = d.app_token",
        list(dispatch_ids),
    )
    return int(result.rsplit(maxsplit=1)[-1])


async def complete_if_done(conn: Conn, sending_id: SendingId) -> bool:
    """`prepared|transmitting → transmitted` once no dispatch is left unsent; else record progress."""
    done = await conn.fetchval(
        "UPDATE sendings SET status = 'transmitted', transmitted_at = now(), status_changed_at = now(), "
        "updated_at = now() WHERE id = $1 AND status IN ('prepared', 'transmitting') AND NOT EXISTS "
        "(SELECT 1 FROM dispatches WHERE sending_id = $1 AND transmission_status = 'scheduled') RETURNING true",
        sending_id,
    )
    if not done:
        await conn.execute("UPDATE sendings SET updated_at = now() WHERE id = $1", sending_id)
    return bool(done)
