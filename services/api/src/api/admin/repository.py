"""SQL of `messaging-admin`: loyalty clubs and API clients, the members import's staging table, and a sending's
ledger for `--follow`. Rows leave as the dataclasses below or as plain values."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from api.repository.members import upsert_from
from shared.db import Conn
from shared.domain import SendingId


@dataclass(frozen=True)
class LoyaltyClub:
    id: int
    slug: str
    name: str
    members: int
    clients: int  # not revoked


@dataclass(frozen=True)
class ApiClient:
    id: int
    name: str
    permits: list[str]
    lc_slugs: list[str]
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True)
class SendingLedger:
    """What `--follow` reads of a sending besides its dispatches' counts."""

    status: str
    planned_count: int | None
    suppressed_count: int | None
    unreachable_count: int | None
    recipients_count: int


@dataclass(frozen=True)
class RangesLedger:
    """The preparation ranges' counts of a sending still being prepared."""

    suppressed: int
    unreachable: int
    member_ranges: int
    member_ranges_done: int
    in_done: int  # recipients resolved in the finished member ranges


async def insert_lc(conn: Conn, slug: str, name: str, settings: dict[str, Any]) -> int | None:
    """A new LC's id, or None when the slug is taken."""
    try:
        lc_id: int = await conn.fetchval(
            "INSERT INTO loyalty_clubs (slug, name, settings) VALUES ($1, $2, $3::jsonb) RETURNING id",
            slug,
            name,
            orjson.dumps(settings).decode(),
        )
    except asyncpg.UniqueViolationError:
        return None
    return lc_id


async def lc_exists(conn: Conn, slug: str) -> bool:
    return bool(await conn.fetchval("SELECT 1 FROM loyalty_clubs WHERE slug = $1", slug))


async def lc_ids_by_slug(conn: Conn, slugs: list[str]) -> dict[str, int]:
    rows = await conn.fetch("SELECT id, slug FROM loyalty_clubs WHERE slug = ANY($1)", slugs)
    return {r["slug"]: r["id"] for r in rows}


async def insert_client(conn: Conn, name: str, token_hash: bytes, permits: list[str], lc_ids: list[int]) -> None:
    await conn.execute(
        "INSERT INTO api_clients (name, token_hash, permits, loyalty_club_ids) VALUES ($1, $2, $3, $4)",
        name,
        token_hash,
        permits,
        lc_ids,
    )


async def all_lcs(conn: Conn) -> list[LoyaltyClub]:
    """Every LC with its member count and its API clients not revoked, oldest first."""
    rows = await conn.fetch(
        "SELECT lc.id, lc.slug, lc.name, "
        "(SELECT count(*) FROM members m WHERE m.loyalty_club_id = lc.id) AS members, "
        "(SELECT count(*) FROM api_clients c WHERE lc.id = ANY(c.loyalty_club_ids) AND c.revoked_at IS NULL) "
        "AS clients FROM loyalty_clubs lc ORDER BY lc.id"
    )
    return [LoyaltyClub(**dict(r)) for r in rows]


async def clients_of(conn: Conn, lc_id: int) -> list[ApiClient]:
    """The API clients that may act for the LC, revoked ones included, oldest first."""
    rows = await conn.fetch(
        "SELECT c.id, c.name, c.permits, c.created_at, c.revoked_at, "
        "ARRAY(SELECT slug FROM loyalty_clubs WHERE id = ANY(c.loyalty_club_ids) ORDER BY slug) AS lc_slugs "
        "FROM api_clients c WHERE $1 = ANY(c.loyalty_club_ids) ORDER BY c.id",
        lc_id,
    )
    return [ApiClient(**dict(r)) for r in rows]


async def revoke(conn: Conn, client_id: int) -> tuple[datetime, bool] | None:
    """When the client was revoked and whether it already was; None when there is no such client."""
    # The outer SELECT sees the row as it was before the UPDATE: its revoked_at is the earlier one, if any.
    row = await conn.fetchrow(
        "WITH revoked AS (UPDATE api_clients SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL "
        "RETURNING revoked_at) "
        "SELECT coalesce((SELECT revoked_at FROM revoked), revoked_at) AS revoked_at, "
        "NOT EXISTS (SELECT FROM revoked) AS already FROM api_clients WHERE id = $1",
        client_id,
    )
    return None if row is None else (row["revoked_at"], row["already"])


# Staging rows go through text for the jsonb columns: PostgreSQL parses them in the upsert.
CREATE_STAGING = """
    CREATE TEMP TABLE member_import (
        id bigint, secret_id text, msisdn text, email text, app_token text, app_platform text, properties text,
        consents text, sms_status text, email_status text, push_status text, source_updated_at timestamptz
    ) ON COMMIT DELETE ROWS
"""

# The same rule as `upsert_members`, read from the staging table instead of arrays.
UPSERT_FROM_STAGING = upsert_from("member_import AS r")


async def create_staging(conn: Conn) -> None:
    """The connection's own staging table for imported rows (emptied at every commit)."""
    await conn.execute(CREATE_STAGING)


async def upsert_staged(conn: Conn, lc_id: int, records: list[tuple[Any, ...]]) -> int:
    """One batch in one transaction: binary COPY into the staging table, then the upsert; rows written."""
    async with conn.transaction():
        await conn.copy_records_to_table("member_import", records=records)
        result: str = await conn.execute(UPSERT_FROM_STAGING, lc_id)
    return int(result.rsplit(maxsplit=1)[-1])


async def sending_ledger(conn: Conn, sending_id: SendingId) -> SendingLedger | None:
    row = await conn.fetchrow(
        "SELECT status, planned_count, suppressed_count, unreachable_count, recipients_count FROM sendings "
        "WHERE id = $1 AND deleted_at IS NULL",
        sending_id,
    )
    return None if row is None else SendingLedger(**dict(row))


async def ranges_ledger(conn: Conn, sending_id: SendingId) -> RangesLedger:
    row = await conn.fetchrow(
        "SELECT coalesce(sum(suppressed), 0) AS suppressed, coalesce(sum(unreachable), 0) AS unreachable, "
        "count(*) FILTER (WHERE range_no > 0) AS member_ranges, "
        "count(*) FILTER (WHERE range_no > 0 AND done) AS member_ranges_done, "
        "coalesce(sum(dispatches + suppressed + unreachable) FILTER (WHERE range_no > 0 AND done), 0) AS in_done "
        "FROM preparation_ranges WHERE sending_id = $1",
        sending_id,
    )
    assert row is not None  # an aggregate always has a row
    return RangesLedger(**dict(row))
