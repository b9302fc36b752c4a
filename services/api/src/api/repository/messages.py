"""SQL of the api service. Records never leave this module: functions return dicts or plain values."""

from typing import Any

import orjson

from shared.db import Conn
from shared.domain import LoyaltyClubId, MessageId, SendingId

# Woken by the scheduler's LISTEN: a sending may be due now.
SENDINGS_DUE_CHANNEL = "sendings_due"


async def get_loyalty_club_settings(conn: Conn, lc_id: LoyaltyClubId) -> dict[str, Any]:
    settings: dict[str, Any] = await conn.fetchval("SELECT settings FROM loyalty_clubs WHERE id = $1", lc_id)
    return settings


async def get_stored_template(conn: Conn, lc_id: LoyaltyClubId, template_id: int) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        "SELECT id, type, content, wrapper_id FROM templates "
        "WHERE id = $1 AND loyalty_club_id = $2 AND standalone AND deleted_at IS NULL",
        template_id,
        lc_id,
    )
    return dict(row) if row else None


async def insert_message(conn: Conn, lc_id: LoyaltyClubId, service: str, fields: dict[str, Any]) -> MessageId:
    message_id: int = await conn.fetchval(
        "INSERT INTO messages (loyalty_club_id, service, name, shorten_urls, track_in_shortener, campaign_id, "
        "marketing) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        lc_id,
        service,
        fields["name"],
        fields["shorten_urls"],
        fields["track_in_shortener"],
        fields["campaign_id"],
        fields["marketing"],
    )
    return MessageId(message_id)


async def insert_channel(
    conn: Conn, lc_id: LoyaltyClubId, message_id: MessageId, position: int, channel: dict[str, Any]
) -> None:
    template = channel["template"]
    template_id = await conn.fetchval(
        "INSERT INTO templates (loyalty_club_id, type, content, wrapper_id) VALUES ($1, $2, $3, $4) RETURNING id",
        lc_id,
        template["type"],
        template["content"],
        template["wrapper_id"],
    )
    await conn.execute(
        "INSERT INTO channels (message_id, position, type, sender, from_email, from_name, template_id) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7)",
        message_id,
        position,
        channel["type"],
        channel["sender"],
        channel["from_email"],
        channel["from_name"],
        template_id,
    )


async def get_message(conn: Conn, lc_id: LoyaltyClubId, service: str, message_id: int) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        "SELECT * FROM messages WHERE id = $1 AND loyalty_club_id = $2 AND service = $3 AND deleted_at IS NULL",
        message_id,
        lc_id,
        service,
    )
    return dict(row) if row else None


async def get_channels(conn: Conn, message_id: MessageId) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT c.id, c.type, c.sender, c.from_email, c.from_name, c.created_at, c.updated_at, "
        "t.id AS template_id, t.wrapper_id, t.type AS template_type, t.content, "
        "t.created_at AS template_created_at, t.updated_at AS template_updated_at "
        "FROM channels c JOIN templates t ON t.id = c.template_id WHERE c.message_id = $1 ORDER BY c.position",
        message_id,
    )
    return [dict(r) for r in rows]


async def get_message_sendings_summary(conn: Conn, message_id: MessageId) -> dict[str, Any]:
    """Statuses of every sending of the message and the latest one, for the aggregated fields."""
    statuses = await conn.fetchval(
        "SELECT coalesce(array_agg(status), '{}') FROM sendings WHERE message_id = $1 AND deleted_at IS NULL",
        message_id,
    )
    latest = await conn.fetchrow(
        "SELECT * FROM sendings WHERE message_id = $1 AND deleted_at IS NULL ORDER BY id DESC LIMIT 1",
        message_id,
    )
    return {"statuses": list(statuses), "latest": dict(latest) if latest else None}


async def insert_sending(conn: Conn, lc_id: LoyaltyClubId, message_id: MessageId, fields: dict[str, Any]) -> SendingId:
    sending_id: int = await conn.fetchval(
        "INSERT INTO sendings (loyalty_club_id, message_id, status, draft, priority, channels_preference, "
        "properties, scheduled_at, scheduled_with, prescheduled, recipients_count) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
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
        len(fields["recipients"]),
    )
    recipients = fields["recipients"]
    if recipients:
        # Properties travel as text and are cast in SQL: asyncpg has no binary jsonb encoder for arrays or COPY.
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
    return SendingId(sending_id)


async def notify_sendings_due(conn: Conn) -> None:
    """Wake the scheduler; delivered when the surrounding transaction commits, never before."""
    await conn.execute("SELECT pg_notify($1, '')", SENDINGS_DUE_CHANNEL)


async def get_sending(conn: Conn, lc_id: LoyaltyClubId, service: str, sending_id: int) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        "SELECT s.* FROM sendings s JOIN messages m ON m.id = s.message_id "
        "WHERE s.id = $1 AND s.loyalty_club_id = $2 AND m.service = $3 "
        "AND s.deleted_at IS NULL AND m.deleted_at IS NULL",
        sending_id,
        lc_id,
        service,
    )
    return dict(row) if row else None


async def get_sending_recipients(conn: Conn, sending_id: SendingId) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT member_id, msisdn, email, app_token, properties FROM sending_recipients "
        "WHERE sending_id = $1 ORDER BY position",
        sending_id,
    )
    return [dict(r) for r in rows]


async def count_sending_dispatches(conn: Conn, sending_id: SendingId) -> dict[str, int]:
    """The ledger's dispatch counts by transmission and delivery status."""
    row = await conn.fetchrow(
        "SELECT count(*) AS prepared, "
        "count(*) FILTER (WHERE transmission_status = 'scheduled') AS pending, "
        "count(*) FILTER (WHERE transmission_status = 'transmitted') AS transmitted, "
        "count(*) FILTER (WHERE transmission_status = 'failed') AS failed, "
        "count(*) FILTER (WHERE transmission_status = 'transmitted' AND delivery_status = 'delivered') "
        "  AS delivered, "
        "count(*) FILTER (WHERE transmission_status = 'transmitted' AND delivery_status = 'failed') "
        "  AS delivery_failed "
        "FROM dispatches WHERE sending_id = $1",
        sending_id,
    )
    assert row is not None
    return dict(row)


DISPATCH_FILTERS = ("transmission_status", "delivery_status", "member_id", "msisdn", "email", "app_token")


async def list_sending_dispatches(
    conn: Conn, sending_id: SendingId, filters: dict[str, Any], limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """One page of the sending's dispatches in id order, and the total matching the filters."""
    where = ["sending_id = $1"]
    args: list[Any] = [sending_id]
    for column in DISPATCH_FILTERS:  # column names come from this constant, values are parameters
        if filters.get(column) is not None:
            args.append(filters[column])
            where.append(f"{column} = ${len(args)}")
    condition = " AND ".join(where)
    total: int = await conn.fetchval(f"SELECT count(*) FROM dispatches WHERE {condition}", *args)
    rows = await conn.fetch(
        f"SELECT * FROM dispatches WHERE {condition} ORDER BY id LIMIT ${len(args) + 1} OFFSET ${len(args) + 2}",
        *args,
        limit,
        offset,
    )
    return [dict(r) for r in rows], total
