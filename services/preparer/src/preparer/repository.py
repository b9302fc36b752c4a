"""SQL of the preparer: what a sending needs, and dispatches written with COPY."""

from collections.abc import Sequence
from typing import Any

import orjson

from preparer.audience import compile_conditions
from shared.db import Conn
from shared.domain import DispatchId, SendingId

_STAGE_COLUMNS = (
    "sending_id",
    "loyalty_club_id",
    "recipient_key",
    "type",
    "content",
    "member_id",
    "msisdn",
    "email",
    "app_token",
    "transmission_status",
    "error",
    "scheduled_at",
)


async def get_sending_to_prepare(conn: Conn, sending_id: SendingId) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        "SELECT s.id, s.loyalty_club_id, s.message_id, s.status, s.properties, s.channels_preference, "
        "s.scheduled_at, m.name AS message_name, m.service, m.marketing, a.conditions AS audience_conditions "
        "FROM sendings s JOIN messages m ON m.id = s.message_id LEFT JOIN audiences a ON a.id = s.audience_id "
        "WHERE s.id = $1",
        sending_id,
    )
    return dict(row) if row else None


async def get_message_channels(conn: Conn, message_id: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT c.type, c.from_email, c.from_name, t.content FROM channels c "
        "JOIN templates t ON t.id = c.template_id WHERE c.message_id = $1 ORDER BY c.position",
        message_id,
    )
    return [dict(r) for r in rows]


async def get_inline_recipients(conn: Conn, sending_id: SendingId) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT member_id, msisdn, email, app_token, properties FROM sending_recipients "
        "WHERE sending_id = $1 ORDER BY position",
        sending_id,
    )
    return [dict(r) for r in rows]


async def get_members(conn: Conn, lc_id: int, member_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    rows = await conn.fetch(
        f"SELECT {MEMBER_COLUMNS} FROM members WHERE loyalty_club_id = $1 AND id = ANY($2) AND deleted_at IS NULL",
        lc_id,
        list(member_ids),
    )
    return {r["id"]: dict(r) for r in rows}


MEMBER_COLUMNS = (
    "id, secret_id, msisdn, email, app_token, app_platform, properties, consents, sms_status, email_status, push_status"
)


async def get_audience_members(conn: Conn, lc_id: int, conditions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The LC's members matching every condition, in id order (evaluated now, when preparation starts)."""
    condition, params = compile_conditions(conditions, first_param=1)
    rows = await conn.fetch(
        f"SELECT {MEMBER_COLUMNS} FROM members m WHERE m.loyalty_club_id = $1 AND m.deleted_at IS NULL "
        f"AND {condition} ORDER BY m.id",
        lc_id,
        *params,
    )
    return [dict(r) for r in rows]


async def lock_preparing_sending(conn: Conn, sending_id: SendingId) -> bool:
    """True if the sending is still preparing (not cancelled meanwhile); holds its row until commit."""
    status = await conn.fetchval("SELECT status FROM sendings WHERE id = $1 FOR UPDATE", sending_id)
    return bool(status == "preparing")


async def insert_dispatches(conn: Conn, sending: dict[str, Any], rows: Sequence[dict[str, Any]]) -> list[DispatchId]:
    """COPY rows into a staging table, then insert those not there yet; returns new ids still to transmit.

    The unique key (sending_id, recipient_key) makes a re-run after a crash insert nothing twice.
    """
    await conn.execute(
        "CREATE TEMP TABLE IF NOT EXISTS dispatch_stage (sending_id bigint, loyalty_club_id bigint, "
        "recipient_key text, type text, content text, member_id bigint, msisdn text, email text, app_token text, "
        "transmission_status text, error text, scheduled_at timestamptz) ON COMMIT DELETE ROWS"
    )
    await conn.copy_records_to_table(
        "dispatch_stage",
        columns=_STAGE_COLUMNS,
        records=[
            (
                sending["id"],
                sending["loyalty_club_id"],
                r["recipient_key"],
                r["type"],
                None if r["content"] is None else orjson.dumps(r["content"]).decode(),
                r["member_id"],
                r["msisdn"],
                r["email"],
                r["app_token"],
                r["transmission_status"],
                r["error"],
                sending["scheduled_at"],
            )
            for r in rows
        ],
    )
    inserted = await conn.fetch(
        "INSERT INTO dispatches (sending_id, loyalty_club_id, recipient_key, type, content, member_id, msisdn, "
        "email, app_token, transmission_status, error, scheduled_at) "
        "SELECT sending_id, loyalty_club_id, recipient_key, type, content::jsonb, member_id, msisdn, email, "
        "app_token, transmission_status, error, scheduled_at FROM dispatch_stage "
        "ON CONFLICT (sending_id, recipient_key) DO NOTHING RETURNING id, transmission_status"
    )
    return sorted(DispatchId(r["id"]) for r in inserted if r["transmission_status"] == "scheduled")


async def touch_sending(conn: Conn, sending_id: SendingId) -> None:
    """Progress heartbeat: the scheduler re-drives a preparation only when this stops moving."""
    await conn.execute("UPDATE sendings SET updated_at = now() WHERE id = $1", sending_id)


async def finish_preparation(conn: Conn, sending_id: SendingId, unreachable: int, suppressed: int) -> str | None:
    """`preparing → prepared` with counts from the dispatches themselves, or `skipped` when there are none."""
    status: str | None = await conn.fetchval(
        """
        WITH counts AS (
            SELECT count(*) AS dispatches, count(DISTINCT member_id) AS members
            FROM dispatches WHERE sending_id = $1
        )
        UPDATE sendings s SET
            status = CASE WHEN counts.dispatches > 0 THEN 'prepared' ELSE 'skipped' END,
            dispatches_count = counts.dispatches, members_count = counts.members,
            planned_count = counts.dispatches + $2 + $3, unreachable_count = $2, suppressed_count = $3,
            status_changed_at = now(), updated_at = now()
        FROM counts WHERE s.id = $1 AND s.status = 'preparing'
        RETURNING s.status
        """,
        sending_id,
        unreachable,
        suppressed,
    )
    return status
