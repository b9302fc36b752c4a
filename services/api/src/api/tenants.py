"""Loyalty clubs and their API clients as an operator manages them: create, list, revoke (`messaging-admin`)."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from api.admin_db import connection
from api.admin_errors import LoyaltyClubExists, UnknownClient, UnknownLoyaltyClub, UnknownPermit
from api.auth import hash_token, new_token
from api.permits import ALL_PERMITS, normalize_permit

DEFAULT_RETENTION_DAYS = 90


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


def default_lc_settings(slug: str, name: str) -> dict[str, Any]:
    """Messaging settings of a new LC: every channel usable, with senders derived from its name."""
    sender = "".join(ch for ch in name if ch.isalnum())[:11] or "Messaging"
    return {
        "channels": {
            "sms": {"sender_type": "alphanumeric", "sender_value": sender},
            "email": {"from_name": name, "from_email": f"no-reply@{slug}.example.com"},
            "push": {"android_app_id": None, "ios_app_id": None},
        }
    }


def check_permits(permits: list[str]) -> list[str]:
    """The permits normalized and sorted; raises UnknownPermit for the first one the API does not know."""
    normalized = {normalize_permit(p): p for p in permits}
    for permit, given in normalized.items():
        if permit not in ALL_PERMITS:
            raise UnknownPermit(given, ALL_PERMITS)
    return sorted(normalized)


async def create_lc(url: str, slug: str, name: str, retention_days: int = DEFAULT_RETENTION_DAYS) -> int:
    """Store a new LC; raises LoyaltyClubExists when the slug is taken."""
    settings = {**default_lc_settings(slug, name), "retention_days": retention_days}
    async with connection(url) as conn:
        try:
            lc_id: int = await conn.fetchval(
                "INSERT INTO loyalty_clubs (slug, name, settings) VALUES ($1, $2, $3::jsonb) RETURNING id",
                slug,
                name,
                orjson.dumps(settings).decode(),
            )
        except asyncpg.UniqueViolationError:
            raise LoyaltyClubExists(slug) from None
    return lc_id


async def create_client(url: str, lc_slugs: list[str], name: str, permits: list[str]) -> str:
    """Store a new API client for the LCs; returns its token, which exists nowhere else afterwards."""
    checked = check_permits(permits)
    async with connection(url) as conn:
        lc_ids = await conn.fetch("SELECT id, slug FROM loyalty_clubs WHERE slug = ANY($1)", lc_slugs)
        unknown = set(lc_slugs) - {r["slug"] for r in lc_ids}
        if unknown:
            raise UnknownLoyaltyClub(sorted(unknown))
        token = new_token()
        await conn.execute(
            "INSERT INTO api_clients (name, token_hash, permits, loyalty_club_ids) VALUES ($1, $2, $3, $4)",
            name,
            hash_token(token),
            checked,
            [r["id"] for r in lc_ids],
        )
    return token


async def list_lcs(url: str) -> list[LoyaltyClub]:
    """Every LC with its member count and its API clients not revoked, oldest first."""
    async with connection(url) as conn:
        rows = await conn.fetch(
            "SELECT lc.id, lc.slug, lc.name, "
            "(SELECT count(*) FROM members m WHERE m.loyalty_club_id = lc.id) AS members, "
            "(SELECT count(*) FROM api_clients c WHERE lc.id = ANY(c.loyalty_club_ids) AND c.revoked_at IS NULL) "
            "AS clients FROM loyalty_clubs lc ORDER BY lc.id"
        )
    return [LoyaltyClub(**dict(r)) for r in rows]


async def list_clients(url: str, lc_slug: str) -> list[ApiClient]:
    """The API clients that may act for the LC, revoked ones included, oldest first."""
    async with connection(url) as conn:
        lc_id = await conn.fetchval("SELECT id FROM loyalty_clubs WHERE slug = $1", lc_slug)
        if lc_id is None:
            raise UnknownLoyaltyClub([lc_slug])
        rows = await conn.fetch(
            "SELECT c.id, c.name, c.permits, c.created_at, c.revoked_at, "
            "ARRAY(SELECT slug FROM loyalty_clubs WHERE id = ANY(c.loyalty_club_ids) ORDER BY slug) AS lc_slugs "
            "FROM api_clients c WHERE $1 = ANY(c.loyalty_club_ids) ORDER BY c.id",
            lc_id,
        )
    return [ApiClient(**dict(r)) for r in rows]


async def revoke_client(url: str, client_id: int) -> tuple[datetime, bool]:
    """Refuse the client's token from now on; returns when it was revoked and whether it was already."""
    async with connection(url) as conn:
        # The outer SELECT sees the row as it was before the UPDATE: its revoked_at is the earlier one, if any.
        row = await conn.fetchrow(
            "WITH revoked AS (UPDATE api_clients SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL "
            "RETURNING revoked_at) "
            "SELECT coalesce((SELECT revoked_at FROM revoked), revoked_at) AS revoked_at, "
            "NOT EXISTS (SELECT FROM revoked) AS already FROM api_clients WHERE id = $1",
            client_id,
        )
    if row is None:
        raise UnknownClient(client_id)
    return row["revoked_at"], row["already"]
