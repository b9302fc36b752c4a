"""SQL of API clients as requests see them: who is calling, for which LC, with which permits."""

from typing import NamedTuple

from shared.db import Conn


class CallerRow(NamedTuple):
    lc_id: int
    client_id: int | None  # None: no such client, or it was revoked
    permits: list[str] | None
    allowed: bool | None  # whether the client may act for this LC


async def find_caller(conn: Conn, lc_slug: str, token_hash: bytes) -> CallerRow | None:
    """The LC of `lc_slug` (None when unknown) with the client of the token if it is not revoked: `client_id`
    None when no such client, `allowed` whether that client may act for this LC, and its `permits`."""
    row = await conn.fetchrow(
        "SELECT lc.id AS lc_id, c.id AS client_id, c.permits, lc.id = ANY(c.loyalty_club_ids) AS allowed "
        "FROM loyalty_clubs lc LEFT JOIN api_clients c ON c.token_hash = $2 AND c.revoked_at IS NULL "
        "WHERE lc.slug = $1",
        lc_slug,
        token_hash,
    )
    return CallerRow(*row) if row is not None else None
