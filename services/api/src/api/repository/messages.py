"""SQL of messages and their channels. Records never leave this module: functions return rows (rows.py)."""

from typing import Any

from api.repository.rows import ChannelRow, MessageRow, Overview, SendingRow, SendingsSummary, TemplateRow, columns
from shared.db import Conn
from shared.domain import LoyaltyClubId, MessageId

_MESSAGE = columns(MessageRow, "m")
_SENDING = columns(SendingRow, "s")


async def get_loyalty_club_settings(conn: Conn, lc_id: LoyaltyClubId) -> dict[str, Any]:
    settings: dict[str, Any] = await conn.fetchval("SELECT settings FROM loyalty_clubs WHERE id = $1", lc_id)
    return settings


async def get_stored_template(conn: Conn, lc_id: LoyaltyClubId, template_id: int) -> TemplateRow | None:
    """A live standalone template of the LC, for a channel to copy."""
    row = await conn.fetchrow(
        f"SELECT {columns(TemplateRow)} FROM templates "  # noqa: S608
        "WHERE id = $1 AND loyalty_club_id = $2 AND standalone AND deleted_at IS NULL",
        template_id,
        lc_id,
    )
    return TemplateRow.maybe(row)


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


async def insert_channel_template(conn: Conn, lc_id: LoyaltyClubId, template: dict[str, Any]) -> int:
    """The channel's own copy of its template."""
    template_id: int = await conn.fetchval(
        "INSERT INTO templates (loyalty_club_id, type, content, wrapper_id) VALUES ($1, $2, $3, $4) RETURNING id",
        lc_id,
        template["type"],
        template["content"],
        template["wrapper_id"],
    )
    return template_id


async def _channel_template_id(conn: Conn, lc_id: LoyaltyClubId, channel: dict[str, Any]) -> int:
    """The template kept (`template_id`) or a new copy of the one given (`template`)."""
    if "template" in channel:
        return await insert_channel_template(conn, lc_id, channel["template"])
    template_id: int = channel["template_id"]
    return template_id


async def insert_channel(
    conn: Conn, lc_id: LoyaltyClubId, message_id: MessageId, position: int, channel: dict[str, Any]
) -> None:
    template_id = await _channel_template_id(conn, lc_id, channel)
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


async def get_message(conn: Conn, lc_id: LoyaltyClubId, service: str, message_id: int) -> MessageRow | None:
    row = await conn.fetchrow(
        f"SELECT {_MESSAGE} FROM messages m "  # noqa: S608
        "WHERE m.id = $1 AND m.loyalty_club_id = $2 AND m.service = $3 AND m.deleted_at IS NULL",
        message_id,
        lc_id,
        service,
    )
    return MessageRow.maybe(row)


async def get_channels(conn: Conn, message_ids: list[MessageId]) -> dict[int, list[ChannelRow]]:
    """The channels of each message, in their order, with their templates."""
    rows = await conn.fetch(
        "SELECT c.message_id, c.id, c.type, c.sender, c.from_email, c.from_name, c.created_at, c.updated_at, "
        "t.id AS template_id, t.wrapper_id, t.type AS template_type, t.content, "
        "t.created_at AS template_created_at, t.updated_at AS template_updated_at "
        "FROM channels c JOIN templates t ON t.id = c.template_id WHERE c.message_id = ANY($1) "
        "ORDER BY c.message_id, c.position",
        message_ids,
    )
    found: dict[int, list[ChannelRow]] = {i: [] for i in message_ids}
    for message_id, *channel in rows:
        found[message_id].append(ChannelRow(*channel))
    return found


async def get_sendings_summaries(conn: Conn, message_ids: list[MessageId]) -> dict[int, SendingsSummary]:
    """Statuses of every live sending of each message and its latest one, for the aggregated fields."""
    rows = await conn.fetch(
        f"SELECT {_SENDING} FROM sendings s WHERE s.message_id = ANY($1) AND s.deleted_at IS NULL "  # noqa: S608
        "ORDER BY s.message_id, s.id",
        message_ids,
    )
    sendings: dict[int, list[SendingRow]] = {i: [] for i in message_ids}
    for row in rows:
        sending = SendingRow.of(row)
        sendings[sending.message_id].append(sending)
    return {
        i: SendingsSummary([s.status for s in found], found[-1] if found else None) for i, found in sendings.items()
    }


# The aggregated `sendings_status` of spec §2.1, as SQL over one message `m`.
AGGREGATED_STATUS_SQL = (
    "CASE WHEN NOT EXISTS (SELECT 1 FROM sendings s WHERE s.message_id = m.id AND s.deleted_at IS NULL "
    "AND s.status <> 'draft') THEN 'draft' "
    "WHEN NOT EXISTS (SELECT 1 FROM sendings s WHERE s.message_id = m.id AND s.deleted_at IS NULL "
    "AND s.status NOT IN ('transmitted', 'cancelled', 'failed', 'skipped')) THEN 'finished' "
    "ELSE 'scheduled' END"
)
SORT_COLUMNS = {"created_at": "m.created_at", "updated_at": "m.updated_at", "name": "lower(m.name)", "id": "m.id"}


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def list_messages(
    conn: Conn, lc_id: LoyaltyClubId, service: str, filters: dict[str, Any], limit: int, offset: int
) -> tuple[list[MessageRow], int]:
    """One page of the service's messages, filtered and sorted, and the total matching the filters."""
    where = ["m.loyalty_club_id = $1", "m.service = $2"]
    where.append("m.deleted_at IS NOT NULL" if filters.get("archived") else "m.deleted_at IS NULL")
    args: list[Any] = [lc_id, service]
    if filters.get("campaign_id") is not None:
        args.append(filters["campaign_id"])
        where.append(f"m.campaign_id = ${len(args)}")
    if filters.get("sendings_status"):
        args.append(filters["sendings_status"])
        where.append(f"({AGGREGATED_STATUS_SQL}) = ${len(args)}")
    if filters.get("search"):
        args.append(_like(filters["search"]))
        n = len(args)
        where.append(
            f"(m.name ILIKE ${n} OR EXISTS (SELECT 1 FROM channels c JOIN templates t ON t.id = c.template_id "  # noqa: S608
            f"WHERE c.message_id = m.id AND (t.content->>'subject' ILIKE ${n} OR t.content->>'body' ILIKE ${n})))"
        )
    condition = " AND ".join(where)
    direction = "DESC" if filters.get("sort_direction") == "desc" else "ASC"
    nulls = {"first": " NULLS FIRST", "last": " NULLS LAST"}.get(filters.get("null_position") or "", "")
    order = f"{SORT_COLUMNS[filters.get('sort_by') or 'created_at']} {direction}{nulls}, m.id {direction}"
    total: int = await conn.fetchval(f"SELECT count(*) FROM messages m WHERE {condition}", *args)  # noqa: S608
    rows = await conn.fetch(
        f"SELECT {_MESSAGE} FROM messages m WHERE {condition} "  # noqa: S608
        f"ORDER BY {order} LIMIT ${len(args) + 1} OFFSET ${len(args) + 2}",
        *args,
        limit,
        offset,
    )
    return [MessageRow.of(r) for r in rows], total


MESSAGE_COLUMNS = ("name", "shorten_urls", "track_in_shortener", "campaign_id", "marketing")


async def update_message(conn: Conn, message_id: MessageId, fields: dict[str, Any]) -> None:
    """Set the given columns (names from MESSAGE_COLUMNS only) and `updated_at`."""
    columns = [c for c in MESSAGE_COLUMNS if c in fields]
    assignments = "".join(f"{c} = ${i + 2}, " for i, c in enumerate(columns))
    await conn.execute(
        f"UPDATE messages SET {assignments}updated_at = now() WHERE id = $1",  # noqa: S608
        message_id,
        *(fields[c] for c in columns),
    )


async def replace_channel(conn: Conn, lc_id: LoyaltyClubId, message_id: MessageId, channel: dict[str, Any]) -> None:
    """The channel of that type keeps its id and gets the new attributes and template, or is added last."""
    template_id = await _channel_template_id(conn, lc_id, channel)
    replaced = await conn.fetchval(
        "UPDATE channels SET sender = $3, from_email = $4, from_name = $5, template_id = $6, updated_at = now() "
        "WHERE message_id = $1 AND type = $2 RETURNING id",
        message_id,
        channel["type"],
        channel["sender"],
        channel["from_email"],
        channel["from_name"],
        template_id,
    )
    if replaced is None:
        await conn.execute(
            "INSERT INTO channels (message_id, position, type, sender, from_email, from_name, template_id) "
            "SELECT $1, coalesce(max(position) + 1, 0), $2, $3, $4, $5, $6 FROM channels WHERE message_id = $1",
            message_id,
            channel["type"],
            channel["sender"],
            channel["from_email"],
            channel["from_name"],
            template_id,
        )


async def soft_delete_message(conn: Conn, message_id: MessageId) -> list[int]:
    """Cancel the message's executing sendings, then mark it and its sendings deleted; returns the cancelled."""
    cancelled = await conn.fetch(
        "UPDATE sendings SET status = 'cancelled', status_changed_at = now(), updated_at = now() "
        "WHERE message_id = $1 AND deleted_at IS NULL "
        "AND status IN ('scheduled', 'preparing', 'prepared', 'transmitting') RETURNING id",
        message_id,
    )
    await conn.execute(
        "UPDATE sendings SET deleted_at = now() WHERE message_id = $1 AND deleted_at IS NULL", message_id
    )
    await conn.execute("UPDATE messages SET deleted_at = now(), updated_at = now() WHERE id = $1", message_id)
    return [r["id"] for r in cancelled]


async def get_overview(conn: Conn, lc_id: LoyaltyClubId, service: str) -> Overview:
    """Messages per aggregated status, and dispatches per transmission and delivery status, of the service."""
    by_status = await conn.fetch(
        f"SELECT {AGGREGATED_STATUS_SQL} AS status, count(*) AS n FROM messages m "  # noqa: S608
        "WHERE m.loyalty_club_id = $1 AND m.service = $2 AND m.deleted_at IS NULL GROUP BY 1",
        lc_id,
        service,
    )
    dispatches = await conn.fetch(
        "SELECT d.transmission_status, d.delivery_status, count(*) AS n FROM dispatches d "
        "JOIN sendings s ON s.id = d.sending_id JOIN messages m ON m.id = s.message_id "
        "WHERE m.loyalty_club_id = $1 AND m.service = $2 AND m.deleted_at IS NULL AND s.deleted_at IS NULL "
        "GROUP BY 1, 2",
        lc_id,
        service,
    )
    return Overview(
        {r["status"]: r["n"] for r in by_status},
        {(transmission, delivery): n for transmission, delivery, n in dispatches},
    )
