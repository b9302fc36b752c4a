"""What preparing (or previewing) a sending reads: its channels, inline recipients and audience members."""

from collections.abc import Sequence
from typing import Any

from shared.db import Conn
from shared.domain import SendingId
from shared.preparation.audience import compile_conditions

MEMBER_COLUMNS = (
    "id, secret_id, msisdn, email, app_token, app_platform, properties, consents, sms_status, email_status, push_status"
)


async def get_message_channels(conn: Conn, message_id: int) -> list[dict[str, Any]]:
    """The message's channels in order, with their template's content and its wrapper's, if any."""
    rows = await conn.fetch(
        "SELECT c.type, c.from_email, c.from_name, t.content, w.content AS wrapper_content FROM channels c "
        "JOIN templates t ON t.id = c.template_id LEFT JOIN templates w ON w.id = t.wrapper_id "
        "WHERE c.message_id = $1 ORDER BY c.position",
        message_id,
    )
    return [dict(r) for r in rows]


async def get_inline_member_ids(conn: Conn, sending_id: SendingId) -> set[int]:
    """Members also listed inline: the audience ranges leave them to the inline range (spec §3.3, 1)."""
    rows = await conn.fetch(
        "SELECT member_id FROM sending_recipients WHERE sending_id = $1 AND member_id IS NOT NULL", sending_id
    )
    return {r["member_id"] for r in rows}


async def get_inline_recipients(conn: Conn, sending_id: SendingId) -> list[dict[str, Any]]:
    """All inline recipients (at most the api's limit, 10 000): they are prepared as one chunk."""
    rows = await conn.fetch(
        "SELECT position, member_id, msisdn, email, app_token, properties FROM sending_recipients "
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


def audience_query(conditions: list[dict[str, Any]]) -> tuple[str, list[Any]]:
    """SQL of an LC's live members in ($2, $3] by id matching every condition, in id order; its parameters
    after $1 (the LC), $2 and $3."""
    condition, params = compile_conditions(conditions, first_param=3)
    query = (
        f"SELECT {MEMBER_COLUMNS} FROM members m WHERE m.loyalty_club_id = $1 AND m.deleted_at IS NULL "
        f"AND m.id > $2 AND m.id <= $3 AND {condition} ORDER BY m.id"
    )
    return query, params
