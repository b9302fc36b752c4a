"""SQL of sendings, their inline recipients, and the dispatches the api reads."""

from typing import Any

import orjson

from api.repository.rows import DispatchRow, SendingMemberRow, SendingRow, columns
from shared.db import Conn
from shared.domain import SENDINGS_DUE_CHANNEL, LoyaltyClubId, MessageId, SendingId

_SENDING = columns(SendingRow, "s")
_DISPATCH = columns(DispatchRow)

# Columns an update may set; names come from this constant only, values are parameters.
UPDATABLE_COLUMNS = (
    "status",
    "draft",
    "priority",
    "channels_preference",
    "properties",
    "scheduled_at",
    "scheduled_with",
    "prescheduled",
    "audience_id",
    "recipients_count",
)


async def insert_sending(conn: Conn, lc_id: LoyaltyClubId, message_id: MessageId, fields: dict[str, Any]) -> SendingId:
    sending_id: int = await conn.fetchval(
        "INSERT INTO sendings (loyalty_club_id, message_id, status, draft, priority, channels_preference, "
        "properties, scheduled_at, scheduled_with, prescheduled, audience_id, recipients_count) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
        lc_id,
        message_id,
        fields["status"],
        fields["draft"],
        fields["priority"],
        fields["channels_preference"],
        fields["properties"],
        fields["scheduled_at"],
        fields["scheduled_with"],
        fields["prescheduled"],
        fields["audience_id"],
        len(fields["recipients"]),
    )
    await insert_recipients(conn, SendingId(sending_id), fields["recipients"])
    return SendingId(sending_id)


async def insert_recipients(conn: Conn, sending_id: SendingId, recipients: list[dict[str, Any]]) -> None:
    """Inline recipients in their order; properties travel as text (asyncpg has no binary jsonb array codec)."""
    if not recipients:
        return
    await conn.execute(
        "INSERT INTO sending_recipients (sending_id, position, member_id, msisdn, email, app_token, properties) "
        "SELECT $1, r.position - 1, r.member_id, r.msisdn, r.email, r.app_token, r.properties::jsonb "
        "FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[]) "
        "WITH ORDINALITY AS r(member_id, msisdn, email, app_token, properties, position)",
        sending_id,
        [r["member_id"] for r in recipients],
        [r["msisdn"] for r in recipients],
        [r["email"] for r in recipients],
        [r["app_token"] for r in recipients],
        [orjson.dumps(r["properties"]).decode() for r in recipients],
    )


async def replace_recipients(conn: Conn, sending_id: SendingId, recipients: list[dict[str, Any]]) -> None:
    await conn.execute("DELETE FROM sending_recipients WHERE sending_id = $1", sending_id)
    await insert_recipients(conn, sending_id, recipients)


async def update_sending(conn: Conn, sending_id: SendingId, fields: dict[str, Any]) -> None:
    """Set the given columns (a subset of UPDATABLE_COLUMNS) and `updated_at`."""
    columns = [c for c in UPDATABLE_COLUMNS if c in fields]
    assignments = ", ".join(f"{c} = ${i + 2}" for i, c in enumerate(columns))
    await conn.execute(
        f"UPDATE sendings SET {assignments}, status_changed_at = CASE WHEN status <> ${len(columns) + 2} "  # noqa: S608
        f"THEN now() ELSE status_changed_at END, updated_at = now() WHERE id = $1",
        sending_id,
        *(fields[c] for c in columns),
        fields.get("status"),
    )


async def cancel_sending(conn: Conn, sending_id: SendingId, cancellable: list[str]) -> bool:
    """`scheduled|preparing|prepared|transmitting → cancelled`; the workers stop at their next check."""
    result: str = await conn.execute(
        "UPDATE sendings SET status = 'cancelled', status_changed_at = now(), updated_at = now() "
        "WHERE id = $1 AND status = ANY($2)",
        sending_id,
        cancellable,
    )
    return result.rsplit(maxsplit=1)[-1] != "0"


async def notify_sendings_due(conn: Conn) -> None:
    """Wake the scheduler; delivered when the surrounding transaction commits, never before."""
    await conn.execute("SELECT pg_notify($1, '')", SENDINGS_DUE_CHANNEL)


async def get_sending(
    conn: Conn, lc_id: LoyaltyClubId, service: str, sending_id: int, lock: bool = False
) -> SendingRow | None:
    """A live sending of a live message of this LC and service (locked for update when asked)."""
    row = await conn.fetchrow(
        f"SELECT {_SENDING} FROM sendings s JOIN messages m ON m.id = s.message_id "  # noqa: S608
        "WHERE s.id = $1 AND s.loyalty_club_id = $2 AND m.service = $3 "
        "AND s.deleted_at IS NULL AND m.deleted_at IS NULL" + (" FOR UPDATE OF s" if lock else ""),
        sending_id,
        lc_id,
        service,
    )
    return SendingRow.maybe(row)


async def list_message_sendings(
    conn: Conn, message_id: MessageId, limit: int, offset: int
) -> tuple[list[SendingRow], int]:
    total: int = await conn.fetchval(
        "SELECT count(*) FROM sendings WHERE message_id = $1 AND deleted_at IS NULL", message_id
    )
    rows = await conn.fetch(
        f"SELECT {_SENDING} FROM sendings s WHERE s.message_id = $1 AND s.deleted_at IS NULL "  # noqa: S608
        "ORDER BY s.id LIMIT $2 OFFSET $3",
        message_id,
        limit,
        offset,
    )
    return [SendingRow.of(r) for r in rows], total


async def get_sending_recipients(conn: Conn, sending_ids: list[SendingId]) -> dict[int, list[dict[str, Any]]]:
    """Inline recipients of each sending, in order, as the body's `recipients` (the spec's own shape)."""
    rows = await conn.fetch(
        "SELECT sending_id, member_id, msisdn, email, app_token, properties FROM sending_recipients "
        "WHERE sending_id = ANY($1) ORDER BY sending_id, position",
        sending_ids,
    )
    found: dict[int, list[dict[str, Any]]] = {i: [] for i in sending_ids}
    for sending_id, member_id, msisdn, email, app_token, properties in rows:
        found[sending_id].append(
            {"member_id": member_id, "msisdn": msisdn, "email": email, "app_token": app_token, "properties": properties}
        )
    return found


DISPATCH_FILTERS = ("transmission_status", "delivery_status", "member_id", "msisdn", "email", "app_token")


async def list_sending_dispatches(
    conn: Conn, sending_id: SendingId, filters: dict[str, Any], limit: int, offset: int
) -> tuple[list[DispatchRow], int]:
    """One page of the sending's dispatches in id order, and the total matching the filters."""
    where = ["sending_id = $1"]
    args: list[Any] = [sending_id]
    for column in DISPATCH_FILTERS:  # column names come from this constant, values are parameters
        if filters.get(column) is not None:
            args.append(filters[column])
            where.append(f"{column} = ${len(args)}")
    condition = " AND ".join(where)
    total: int = await conn.fetchval(f"SELECT count(*) FROM dispatches WHERE {condition}", *args)  # noqa: S608
    rows = await conn.fetch(
        f"SELECT {_DISPATCH} FROM dispatches WHERE {condition} "  # noqa: S608
        f"ORDER BY id LIMIT ${len(args) + 1} OFFSET ${len(args) + 2}",
        *args,
        limit,
        offset,
    )
    return [DispatchRow.of(r) for r in rows], total


async def list_sending_members(
    conn: Conn, sending_id: SendingId, limit: int, offset: int
) -> tuple[list[SendingMemberRow], int]:
    """Distinct members with a dispatch in the sending, with the identifiers their dispatches used."""
    total: int = await conn.fetchval(
        "SELECT count(DISTINCT member_id) FROM dispatches WHERE sending_id = $1 AND member_id IS NOT NULL",
        sending_id,
    )
    rows = await conn.fetch(
        "SELECT member_id AS id, min(type) AS type, min(msisdn) AS msisdn, min(email) AS email, "
        "coalesce(array_agg(DISTINCT app_token) FILTER (WHERE app_token IS NOT NULL), '{}') AS app_tokens "
        "FROM dispatches WHERE sending_id = $1 AND member_id IS NOT NULL "
        "GROUP BY member_id ORDER BY member_id LIMIT $2 OFFSET $3",
        sending_id,
        limit,
        offset,
    )
    return [SendingMemberRow.of(r) for r in rows], total


async def audience_exists(conn: Conn, lc_id: LoyaltyClubId, audience_id: int) -> bool:
    found = await conn.fetchval(
        "SELECT true FROM audiences WHERE id = $1 AND loyalty_club_id = $2 AND deleted_at IS NULL",
        audience_id,
        lc_id,
    )
    return bool(found)


async def insert_inline_audience(conn: Conn, lc_id: LoyaltyClubId, conditions: list[Any]) -> int:
    """An inline audience is stored as an audience of its own (spec §2.2)."""
    audience_id: int = await conn.fetchval(
        "INSERT INTO audiences (loyalty_club_id, conditions, inline) VALUES ($1, $2, true) RETURNING id",
        lc_id,
        conditions,
    )
    return audience_id


async def count_by_status(conn: Conn) -> dict[str, int]:
    """How many sendings are in each status (the `messaging_sendings` gauge)."""
    rows = await conn.fetch("SELECT status, count(*) AS n FROM sendings GROUP BY status")
    return {row["status"]: row["n"] for row in rows}
