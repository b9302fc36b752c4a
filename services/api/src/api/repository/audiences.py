"""SQL of audiences: named ones are listed; inline ones (stored for a sending) are reachable by id."""

from typing import Any

from api.repository.rows import AudienceRow, columns
from shared.db import Conn
from shared.domain import LoyaltyClubId

COLUMNS = columns(AudienceRow)


async def list_audiences(conn: Conn, lc_id: LoyaltyClubId, limit: int, offset: int) -> tuple[list[AudienceRow], int]:
    condition = "loyalty_club_id = $1 AND deleted_at IS NULL AND NOT inline"
    total: int = await conn.fetchval(f"SELECT count(*) FROM audiences WHERE {condition}", lc_id)  # noqa: S608
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM audiences WHERE {condition} ORDER BY id LIMIT $2 OFFSET $3",  # noqa: S608
        lc_id,
        limit,
        offset,
    )
    return [AudienceRow.of(r) for r in rows], total


async def get_audience(conn: Conn, lc_id: LoyaltyClubId, audience_id: int, lock: bool = False) -> AudienceRow | None:
    row = await conn.fetchrow(
        f"SELECT {COLUMNS} FROM audiences WHERE id = $1 AND loyalty_club_id = $2 AND deleted_at IS NULL"  # noqa: S608
        + (" FOR UPDATE" if lock else ""),
        audience_id,
        lc_id,
    )
    return AudienceRow.maybe(row)


async def insert_audience(conn: Conn, lc_id: LoyaltyClubId, name: str, conditions: list[Any]) -> int:
    audience_id: int = await conn.fetchval(
        "INSERT INTO audiences (loyalty_club_id, name, conditions) VALUES ($1, $2, $3) RETURNING id",
        lc_id,
        name,
        conditions,
    )
    return audience_id


async def update_audience(conn: Conn, audience_id: int, name: str, conditions: list[Any]) -> None:
    await conn.execute(
        "UPDATE audiences SET name = $2, conditions = $3, updated_at = now() WHERE id = $1",
        audience_id,
        name,
        conditions,
    )


async def audience_in_use(conn: Conn, audience_id: int) -> bool:
    """True while a sending that may still run needs the audience."""
    used = await conn.fetchval(
        "SELECT true FROM sendings WHERE audience_id = $1 AND deleted_at IS NULL "
        "AND status NOT IN ('transmitted', 'skipped', 'cancelled', 'failed') LIMIT 1",
        audience_id,
    )
    return bool(used)


async def soft_delete_audience(conn: Conn, audience_id: int) -> None:
    await conn.execute("UPDATE audiences SET deleted_at = now(), updated_at = now() WHERE id = $1", audience_id)
