"""SQL of sendings requested through Kafka (events spec §1): the LC of a request and the sending of a request id."""

from shared.db import Conn
from shared.domain import LoyaltyClubId, SendingId


async def loyalty_club_id(conn: Conn, slug: str) -> LoyaltyClubId | None:
    found: int | None = await conn.fetchval("SELECT id FROM loyalty_clubs WHERE slug = $1", slug)
    return None if found is None else LoyaltyClubId(found)


async def sending_of_request(conn: Conn, lc_id: LoyaltyClubId, request_id: str) -> SendingId | None:
    found: int | None = await conn.fetchval(
        "SELECT id FROM sendings WHERE loyalty_club_id = $1 AND request_id = $2", lc_id, request_id
    )
    return None if found is None else SendingId(found)


async def mark_requested(conn: Conn, sending_id: SendingId, request_id: str) -> None:
    """The sending answers this request (a unique index refuses a second sending of it in the LC)."""
    await conn.execute("UPDATE sendings SET request_id = $2 WHERE id = $1", sending_id, request_id)
