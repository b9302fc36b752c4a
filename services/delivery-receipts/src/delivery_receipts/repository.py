"""SQL of delivery-receipts: the receipts inbox, the dispatches' delivery status, and the receipts' counts."""

from collections import Counter
from collections.abc import Sequence

import asyncpg

from delivery_receipts.receipts import Change, DispatchState, Receipt, StoredReceipt
from shared.db import Conn
from shared.domain import DeliveryStatus, DispatchId

# The first try of a stored receipt is the consumer's, at its announcement; the inbox's own loop takes it only
# after this, in case the announcement was lost.
FIRST_RETRY_SECONDS = 1.0


async def insert_receipts(conn: Conn, receipts: Sequence[Receipt]) -> list[tuple[int, Receipt]]:
    """Store receipts in the inbox; returns the new ones with their ids (a report stored before is left out)."""
    rows = await conn.fetch(
        """
        INSERT INTO receipts_inbox (provider, event_key, provider_message_id, dispatch_id, status, external_status,
                                    reported_at, next_attempt_at)
        SELECT *, now() + make_interval(secs => $8)
        FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::timestamptz[])
        ON CONFLICT (provider, event_key) DO NOTHING
        RETURNING id, provider, event_key
        """,
        [r.provider for r in receipts],
        [r.event_key for r in receipts],
        [r.provider_message_id for r in receipts],
        [r.dispatch_id for r in receipts],
        [r.status.value for r in receipts],
        [r.external_status for r in receipts],
        [r.reported_at for r in receipts],
        FIRST_RETRY_SECONDS,
    )
    by_identity = {(r.provider, r.event_key): r for r in receipts}
    return [(row["id"], by_identity[(row["provider"], row["event_key"])]) for row in rows]


def _stored(row: asyncpg.Record) -> StoredReceipt:
    dispatch_id = row["dispatch_id"]
    return StoredReceipt(
        id=row["id"],
        receipt=Receipt(
            provider=row["provider"],
            event_key=row["event_key"],
            provider_message_id=row["provider_message_id"],
            status=DeliveryStatus(row["status"]),
            external_status=row["external_status"],
            reported_at=row["reported_at"],
            dispatch_id=None if dispatch_id is None else DispatchId(dispatch_id),
        ),
    )


_RECEIPT_COLUMNS = "id, provider, event_key, provider_message_id, dispatch_id, status, external_status, reported_at"


async def take_receipts(conn: Conn, ids: Sequence[int]) -> list[StoredReceipt]:
    """Lock these receipts if they still wait (another transaction may hold some: they are skipped)."""
    rows = await conn.fetch(
        f"SELECT {_RECEIPT_COLUMNS} FROM receipts_inbox WHERE id = ANY($1) AND applied_at IS NULL "  # noqa: S608
        "ORDER BY id FOR UPDATE SKIP LOCKED",
        list(ids),
    )
    return [_stored(r) for r in rows]


async def take_due_receipts(conn: Conn, limit: int) -> list[StoredReceipt]:
    """Lock up to `limit` waiting receipts whose next try is due."""
    rows = await conn.fetch(
        f"SELECT {_RECEIPT_COLUMNS} FROM receipts_inbox WHERE applied_at IS NULL AND next_attempt_at <= now() "  # noqa: S608
        "ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED",
        limit,
    )
    return [_stored(r) for r in rows]


async def lock_dispatches(conn: Conn, receipts: Sequence[StoredReceipt]) -> list[DispatchState]:
    """The dispatches the receipts name (by our id, else by the provider's message id), locked in id order."""
    by_id = [s.receipt.dispatch_id for s in receipts if s.receipt.dispatch_id is not None]
    by_message = [s.receipt for s in receipts if s.receipt.dispatch_id is None]
    rows = await conn.fetch(
        """
        SELECT id, provider, provider_message_id, transmission_status, error, delivery_status FROM dispatches
        WHERE id IN (
            SELECT unnest($1::bigint[])
            UNION ALL
            SELECT d.id FROM unnest($2::text[], $3::text[]) AS m(provider, message_id)
            JOIN dispatches d ON d.provider = m.provider AND d.provider_message_id = m.message_id
            WHERE d.provider_message_id IS NOT NULL)
        ORDER BY id FOR UPDATE
        """,
        by_id,
        [r.provider for r in by_message],
        [r.provider_message_id for r in by_message],
    )
    return [DispatchState(**dict(r)) for r in rows]


async def apply_changes(conn: Conn, changes: Sequence[Change]) -> None:
    """Write the dispatches' new delivery status (and the transmission of those settled) in one statement."""
    if not changes:
        return
    await conn.execute(
        """
        UPDATE dispatches d SET
            delivery_status = c.status, external_delivery_status = c.external, delivered_at = c.delivered_at,
            transmission_status = CASE WHEN c.settle THEN 'transmitted' ELSE d.transmission_status END,
            error = CASE WHEN c.settle THEN NULL ELSE d.error END,
            provider = CASE WHEN c.settle THEN c.provider ELSE d.provider END,
            provider_message_id = CASE WHEN c.settle THEN c.message_id ELSE d.provider_message_id END,
            transmitted_at = CASE WHEN c.settle THEN c.transmitted_at ELSE d.transmitted_at END,
            updated_at = now()
        FROM unnest($1::bigint[], $2::text[], $3::text[], $4::timestamptz[], $5::boolean[], $6::text[], $7::text[],
                    $8::timestamptz[]) AS c(id, status, external, delivered_at, settle, provider, message_id,
                                             transmitted_at)
        WHERE d.id = c.id
        """,
        [c.dispatch_id for c in changes],
        [c.status.value for c in changes],
        [c.external_status for c in changes],
        [c.delivered_at for c in changes],
        [c.settle for c in changes],
        [c.provider for c in changes],
        [c.provider_message_id for c in changes],
        [c.transmitted_at for c in changes],
    )


async def close_receipts(conn: Conn, outcomes: dict[int, str]) -> None:
    """These receipts are done with: applied, settled their dispatch, or stale."""
    if outcomes:
        await conn.execute(
            "UPDATE receipts_inbox r SET applied_at = now(), outcome = o.outcome "
            "FROM unnest($1::bigint[], $2::text[]) AS o(id, outcome) WHERE r.id = o.id",
            list(outcomes),
            list(outcomes.values()),
        )


async def postpone_receipts(conn: Conn, ids: Sequence[int], base_seconds: float, max_seconds: float) -> None:
    """These receipts wait for their dispatch: tried again after a delay that doubles each time, up to a cap."""
    if ids:
        await conn.execute(
            "UPDATE receipts_inbox SET attempts = attempts + 1, "
            "next_attempt_at = now() + make_interval(secs => least($3, $2 * power(2, least(attempts, 30)))) "
            "WHERE id = ANY($1)",
            list(ids),
            base_seconds,
            max_seconds,
        )


async def expire_receipts(conn: Conn, older_than_seconds: float, limit: int) -> list[tuple[int, str, str]]:
    """Give up on receipts still unmatched this long after they came: (id, provider, message id) of each."""
    rows = await conn.fetch(
        """
        UPDATE receipts_inbox SET applied_at = now(), outcome = 'expired'
        WHERE id IN (SELECT id FROM receipts_inbox WHERE applied_at IS NULL
                     AND received_at < now() - make_interval(secs => $1) LIMIT $2 FOR UPDATE SKIP LOCKED)
        RETURNING id, provider, provider_message_id
        """,
        older_than_seconds,
        limit,
    )
    return [(r["id"], r["provider"], r["provider_message_id"]) for r in rows]


async def delete_old_receipts(conn: Conn, older_than_seconds: float, limit: int) -> int:
    """Forget up to `limit` receipts done with longer ago than this; returns how many."""
    result: str = await conn.execute(
        "DELETE FROM receipts_inbox WHERE id IN (SELECT id FROM receipts_inbox WHERE applied_at IS NOT NULL "
        "AND received_at < now() - make_interval(secs => $1) LIMIT $2)",
        older_than_seconds,
        limit,
    )
    return int(result.rsplit(maxsplit=1)[-1])


async def count_waiting_receipts(conn: Conn) -> int:
    count: int = await conn.fetchval("SELECT count(*) FROM receipts_inbox WHERE applied_at IS NULL")
    return count


async def record_outcomes(conn: Conn, outcomes: Counter[tuple[str, str]]) -> None:
    """Add to the receipts' counts in the caller's transaction (the metric after it committed)."""
    if not outcomes:
        return
    await conn.execute(
        "INSERT INTO receipt_counts (provider, outcome, count) "
        "SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[]) "
        "ON CONFLICT (provider, outcome) DO UPDATE SET count = receipt_counts.count + EXCLUDED.count",
        [p for p, _ in outcomes],
        [o for _, o in outcomes],
        list(outcomes.values()),
    )


async def get_loyalty_club_name(conn: Conn, lc_id: int) -> str | None:
    name: str | None = await conn.fetchval("SELECT name FROM loyalty_clubs WHERE id = $1", lc_id)
    return name


async def withdraw_consent(conn: Conn, lc_id: int, member_id: int, consent: str) -> bool:
    """Set the member's consent (`email_marketing`, ...) to withdrawn, now, as the member service writes consents;
    False when there is no such member or it was withdrawn already."""
    withdrawn = await conn.fetchval(
        "UPDATE members SET consents = consents || jsonb_build_object($3::text, jsonb_build_object("
        "'status', false, 'updated_at', to_jsonb(now()), 'source', 'unsubscribe_link')), updated_at = now() "
        "WHERE loyalty_club_id = $1 AND id = $2 AND deleted_at IS NULL "
        "AND (consents #> ARRAY[$3::text, 'status']) IS DISTINCT FROM 'false'::jsonb RETURNING true",
        lc_id,
        member_id,
        consent,
    )
    return bool(withdrawn)
