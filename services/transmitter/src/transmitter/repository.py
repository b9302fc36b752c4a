"""SQL of the transmitter: claim dispatches, record outcomes in bulk, move the sending along."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from shared.db import Conn
from shared.domain import MARKETING_SERVICES, DispatchId, SendingId
from transmitter.providers.base import SendResult


@dataclass(frozen=True, slots=True)
class SendingState:
    """What a batch needs to know of its sending."""

    loyalty_club_id: int
    status: str
    priority: int | None
    due: bool  # its scheduled time has come (a prescheduled sending is prepared early)
    deleted: bool
    marketing: bool
    sms_sender: str | None


class UnsentDispatch(NamedTuple):
    """A dispatch of the batch never attempted: what its request is made of (a tuple: one per dispatch sent)."""

    id: DispatchId
    type: str
    member_id: int | None
    msisdn: str | None
    email: str | None
    app_token: str | None
    content: dict[str, Any]  # present until the dispatch is cleaned, long after it was sent


async def get_sending_state(conn: Conn, sending_id: SendingId) -> SendingState | None:
    row = await conn.fetchrow(
        "SELECT s.loyalty_club_id, s.status, s.priority, s.scheduled_at <= now() AS due, "
        "s.deleted_at IS NOT NULL AS deleted, "
        "(SELECT coalesce(m.marketing, m.service = ANY($2)) FROM messages m WHERE m.id = s.message_id) AS marketing, "
        "(SELECT sender->>'value' FROM channels WHERE message_id = s.message_id AND type = 'sms') AS sms_sender "
        "FROM sendings s WHERE s.id = $1",
        sending_id,
        list(MARKETING_SERVICES),
    )
    return SendingState(**dict(row)) if row else None


# Unsent and unclaimed, written as a CASE on purpose: the hot statements below find their rows by id only. Were the
# planner able to prove `transmission_status = 'scheduled'`, it could pick the partial index of unsent dispatches,
# and with statistics taken before a large sending was prepared (right after its COPY, say) it does: then every
# statement reads all the sending's unsent dispatches, and a 1 000 000-dispatch sending turns quadratic.
UNSENT = "CASE WHEN transmission_status = 'scheduled' AND claimed_until IS NULL THEN sending_id = $1 ELSE false END"


async def fail_unsent(conn: Conn, sending_id: SendingId, ids: Sequence[DispatchId], error: str) -> int:
    """Dispatches of a sending that stopped (cancelled, failed) are never transmitted."""
    result: str = await conn.execute(
        f"UPDATE dispatches SET transmission_status = 'failed', error = $3, updated_at = now() "  # noqa: S608
        f"WHERE id = ANY($2) AND {UNSENT}",
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


async def get_unsent_dispatches(conn: Conn, sending_id: SendingId, ids: Sequence[DispatchId]) -> list[UnsentDispatch]:
    """The batch's dispatches never attempted (or given back after a transient refusal): what is left to send."""
    rows = await conn.fetch(
        f"SELECT id, type, member_id, msisdn, email, app_token, content FROM dispatches "  # noqa: S608
        f"WHERE id = ANY($2) AND {UNSENT} ORDER BY id",
        sending_id,
        list(ids),
    )
    return [UnsentDispatch(*r) for r in rows]


async def claim_dispatches(conn: Conn, ids: Sequence[DispatchId], lease_seconds: float) -> set[DispatchId]:
    """Mark dispatches attempted, right before their requests leave: only unsent, unclaimed dispatches of a
    sending still going on are claimed, and a claimed dispatch is never claimed again (design §3)."""
    rows = await conn.fetch(  # the CASE: see UNSENT
        "UPDATE dispatches d SET claimed_until = now() + make_interval(secs => $2), updated_at = now() "
        "WHERE d.id = ANY($1) AND CASE WHEN d.transmission_status = 'scheduled' AND d.claimed_until IS NULL "
        "  THEN (SELECT s.status IN ('preparing', 'prepared', 'transmitting') AND s.deleted_at IS NULL FROM sendings s "
        "        WHERE s.id = d.sending_id) ELSE false END "
        "RETURNING d.id",
        list(ids),
        lease_seconds,
    )
    return {DispatchId(r["id"]) for r in rows}


async def release_claims(conn: Conn, ids: Sequence[DispatchId]) -> None:
    """The provider refused these requests transiently (it does not have the messages): unattempted again."""
    await conn.execute(
        "UPDATE dispatches SET claimed_until = NULL, updated_at = now() WHERE id = ANY($1) "
        "AND CASE WHEN transmission_status = 'scheduled' THEN claimed_until IS NOT NULL ELSE false END",  # see UNSENT
        list(ids),
    )


async def record_outcomes(conn: Conn, results: Sequence[SendResult]) -> None:
    """Record provider answers in one statement. An answer counts only for a dispatch in the state it was sent
    from (claimed, or given back for a failure after the provider kept refusing); an acceptance also settles a
    dispatch failed `ambiguous_outcome` meanwhile (its claim expired while the answer was on its way). Their
    sendings are marked as moving, so the scheduler's re-drive leaves them alone."""
    await conn.execute(
        """
        WITH recorded AS (
        UPDATE dispatches d SET
            transmission_status = CASE WHEN r.error IS NULL THEN 'transmitted' ELSE 'failed' END,
            provider = r.provider, provider_message_id = r.message_id, error = r.error,
            transmitted_at = CASE WHEN r.error IS NULL THEN r.answered_at END,
            claimed_until = NULL, updated_at = now()
        FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::timestamptz[], $6::boolean[])
            AS r(provider, id, message_id, error, answered_at, held_claim)
        WHERE d.id = r.id AND (
            (d.transmission_status = 'scheduled' AND (d.claimed_until IS NOT NULL) = r.held_claim)
            OR (r.error IS NULL AND d.transmission_status = 'failed' AND d.error = 'ambiguous_outcome'))
        RETURNING d.sending_id
        )
        UPDATE sendings SET updated_at = now()
        WHERE id IN (SELECT DISTINCT sending_id FROM recorded) AND status IN ('prepared', 'transmitting')
        """,
        [r.provider for r in results],
        [r.dispatch_id for r in results],
        [r.provider_message_id for r in results],
        [r.error for r in results],
        [r.answered_at for r in results],
        [r.held_claim for r in results],
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
