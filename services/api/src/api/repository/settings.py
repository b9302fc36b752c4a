"""SQL of the LC-level reads: merge properties, sender identities, a member's messaging history."""

from typing import Any

from api.repository.rows import HistoryRow, SenderIdentityRow, columns
from shared.db import Conn
from shared.domain import LoyaltyClubId

MAX_PROPERTY_KEYS = 1000
_IDENTITY = columns(SenderIdentityRow)
# The dispatch's own columns, its sending's message and its channel's sender.
_HISTORY = columns(HistoryRow, "d", message_id="s", sender="c", from_name="c", from_email="c")


async def member_property_examples(conn: Conn, lc_id: LoyaltyClubId) -> list[tuple[str, Any]]:
    """Every property key seen in the LC's members, with one example value each."""
    rows = await conn.fetch(
        "SELECT p.key AS name, (array_agg(p.value))[1] AS example FROM members m, jsonb_each(m.properties) p "
        "WHERE m.loyalty_club_id = $1 GROUP BY p.key ORDER BY p.key LIMIT $2",
        lc_id,
        MAX_PROPERTY_KEYS,
    )
    return [(name, example) for name, example in rows]


async def list_sender_identities(
    conn: Conn, lc_id: LoyaltyClubId, limit: int, offset: int
) -> tuple[list[SenderIdentityRow], int]:
    total: int = await conn.fetchval("SELECT count(*) FROM sender_identities WHERE loyalty_club_id = $1", lc_id)
    rows = await conn.fetch(
        f"SELECT {_IDENTITY} FROM sender_identities WHERE loyalty_club_id = $1 "  # noqa: S608
        "ORDER BY id LIMIT $2 OFFSET $3",
        lc_id,
        limit,
        offset,
    )
    return [SenderIdentityRow.of(r) for r in rows], total


async def approved_sender_values(conn: Conn, lc_id: LoyaltyClubId) -> set[str]:
    """The LC's approved sms senders; empty when it has configured none (then any valid sender goes)."""
    rows = await conn.fetch("SELECT value FROM sender_identities WHERE loyalty_club_id = $1", lc_id)
    return {r["value"] for r in rows}


async def insert_sender_identity(conn: Conn, lc_id: LoyaltyClubId, type_: str, value: str) -> SenderIdentityRow | None:
    """The new identity, or None when the LC has that value already."""
    row = await conn.fetchrow(
        "INSERT INTO sender_identities (loyalty_club_id, type, value) VALUES ($1, $2, $3) "  # noqa: S608
        f"ON CONFLICT (loyalty_club_id, value) DO NOTHING RETURNING {_IDENTITY}",
        lc_id,
        type_,
        value,
    )
    return SenderIdentityRow.maybe(row)


async def delete_sender_identity(conn: Conn, lc_id: LoyaltyClubId, identity_id: int) -> SenderIdentityRow | None:
    row = await conn.fetchrow(
        f"DELETE FROM sender_identities WHERE id = $1 AND loyalty_club_id = $2 RETURNING {_IDENTITY}",  # noqa: S608
        identity_id,
        lc_id,
    )
    return SenderIdentityRow.maybe(row)


async def member_history(
    conn: Conn, lc_id: LoyaltyClubId, member_id: int, types: list[str] | None, limit: int, offset: int
) -> tuple[list[HistoryRow], int]:
    """A member's dispatches in the LC, newest first, with what their channel sent them as."""
    condition = "d.loyalty_club_id = $1 AND d.member_id = $2 AND ($3::text[] IS NULL OR d.type = ANY($3))"
    total: int = await conn.fetchval(f"SELECT count(*) FROM dispatches d WHERE {condition}", lc_id, member_id, types)  # noqa: S608
    rows = await conn.fetch(
        f"SELECT {_HISTORY} FROM dispatches d "  # noqa: S608
        "JOIN sendings s ON s.id = d.sending_id "
        "LEFT JOIN channels c ON c.message_id = s.message_id AND c.type = d.type "
        f"WHERE {condition} ORDER BY d.created_at DESC, d.id DESC LIMIT $4 OFFSET $5",
        lc_id,
        member_id,
        types,
        limit,
        offset,
    )
    return [HistoryRow.of(r) for r in rows], total
