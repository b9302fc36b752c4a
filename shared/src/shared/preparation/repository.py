"""What preparing (or previewing) a sending reads: its channels, inline recipients and audience members."""

import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from typing import Any, cast

from shared.db import Conn
from shared.domain import MARKETING_SERVICES, SendingId
from shared.email_address import from_header
from shared.preparation.audience import compile_conditions
from shared.preparation.planning import Channel, Recipient, SendingToPrepare

# A member as preparation needs it; the marketing consents come as booleans (`sms_marketing`, ...), true
# only when the consent's status is JSON true.
MEMBER_COLUMNS = (
    "id, secret_id, msisdn, email, app_token, app_platform, properties, sms_status, email_status, push_status, "
    + ", ".join(f"coalesce(consents #> '{{{c}_marketing,status}}' = 'true', false) AS {c}_marketing"
                for c in ("sms", "email", "push"))
)  # fmt: skip


async def get_sending_to_prepare(conn: Conn, sending_id: SendingId) -> SendingToPrepare | None:
    """The sending with what its preparation needs of its message; a message that did not say whether it is
    marketing is so when its service is (spec §1.2)."""
    row = await conn.fetchrow(
        "SELECT s.id, s.loyalty_club_id, s.message_id, s.status, s.properties, s.channels_preference, "
        "s.scheduled_at, m.name AS message_name, m.service, coalesce(m.marketing, m.service = ANY($2)) AS marketing, "
        "m.shorten_urls, m.track_in_shortener, "
        "a.conditions AS audience_conditions "
        "FROM sendings s JOIN messages m ON m.id = s.message_id LEFT JOIN audiences a ON a.id = s.audience_id "
        "WHERE s.id = $1",
        sending_id,
        list(MARKETING_SERVICES),
    )
    return None if row is None else SendingToPrepare(*row)


async def load_channels(conn: Conn, message_id: int) -> list[Channel]:
    """The message's channels in order, their templates (and wrappers) compiled once for the whole sending."""
    rows = await conn.fetch(
        "SELECT c.type, c.from_email, c.from_name, t.content, w.content AS wrapper_content FROM channels c "
        "JOIN templates t ON t.id = c.template_id LEFT JOIN templates w ON w.id = t.wrapper_id "
        "WHERE c.message_id = $1 ORDER BY c.position",
        message_id,
    )
    return [
        Channel.compile(type_, content, from_header(from_name, from_email) if from_email else None, wrapper_content)
        for type_, from_email, from_name, content, wrapper_content in rows
    ]


async def get_inline_member_ids(conn: Conn, sending_id: SendingId) -> set[int]:
    """Members also listed inline: the audience ranges leave them to the inline range (spec §3.3, 1)."""
    rows = await conn.fetch(
        "SELECT member_id FROM sending_recipients WHERE sending_id = $1 AND member_id IS NOT NULL", sending_id
    )
    return {r["member_id"] for r in rows}


async def get_inline_recipients(conn: Conn, sending_id: SendingId) -> list[Mapping[str, Any]]:
    """All inline recipients (at most the api's limit, 10 000): they are prepared as one chunk."""
    rows = await conn.fetch(
        "SELECT position, member_id, msisdn, email, app_token, properties FROM sending_recipients "
        "WHERE sending_id = $1 ORDER BY position",
        sending_id,
    )
    return cast(list[Mapping[str, Any]], rows)  # records are read-only mappings


async def get_members(conn: Conn, lc_id: int, member_ids: Sequence[int]) -> dict[int, Mapping[str, Any]]:
    rows = await conn.fetch(
        f"SELECT {MEMBER_COLUMNS} FROM members WHERE loyalty_club_id = $1 AND id = ANY($2) AND deleted_at IS NULL",  # noqa: S608
        lc_id,
        list(member_ids),
    )
    return {r["id"]: cast(Mapping[str, Any], r) for r in rows}  # records are read-only mappings


def audience_query(conditions: list[dict[str, Any]]) -> tuple[str, list[Any]]:
    """SQL of an LC's live members in ($2, $3] by id matching every condition, in id order; its parameters
    after $1 (the LC), $2 and $3."""
    condition, params = compile_conditions(conditions, first_param=3)
    query = (
        f"SELECT {MEMBER_COLUMNS} FROM members m WHERE m.loyalty_club_id = $1 AND m.deleted_at IS NULL "  # noqa: S608
        f"AND m.id > $2 AND m.id <= $3 AND {condition} ORDER BY m.id"
    )
    return query, params


@contextlib.asynccontextmanager
async def _in_transaction() -> AsyncIterator[None]:
    yield


async def stream_audience(
    conn: Conn,
    lc_id: int,
    conditions: list[dict[str, Any]],
    after_id: int,
    hi: int,
    chunk_size: int,
    snapshot: bool = True,
) -> AsyncGenerator[list[Mapping[str, Any]], None]:
    """The range's members matching every condition, in id order, in chunks, through a server-side cursor.

    Evaluated in one snapshot (a read-only repeatable-read transaction held for the range), so a member
    changing while the range is read is seen once, as it was when the read began.
    """
    query, params = audience_query(conditions)
    # A preview runs inside its own (rolled back) transaction: the cursor lives in that one.
    transaction = conn.transaction(isolation="repeatable_read", readonly=True) if snapshot else _in_transaction()
    async with transaction:
        cursor = await conn.cursor(query, lc_id, after_id, hi, *params)
        while True:
            rows = cast(list[Mapping[str, Any]], await cursor.fetch(chunk_size))  # records are read-only mappings
            yield rows
            if len(rows) < chunk_size:
                return


async def load_inline_recipients(conn: Conn, lc_id: int, sending_id: SendingId) -> list[Recipient]:
    """Inline recipients; one with `member_id` uses the member's own identifiers (none if unknown)."""
    inline = await get_inline_recipients(conn, sending_id)
    member_ids = [r["member_id"] for r in inline if r["member_id"] is not None]
    members = await get_members(conn, lc_id, member_ids) if member_ids else {}
    return [
        Recipient(properties=r["properties"], member_id=r["member_id"], member=members.get(r["member_id"], {}))
        if r["member_id"] is not None
        else Recipient(properties=r["properties"], msisdn=r["msisdn"], email=r["email"], app_token=r["app_token"])
        for r in inline
    ]
