"""Loyalty clubs and their API clients as an operator manages them: create, list, revoke (`messaging-admin`)."""

from datetime import datetime
from typing import Any

from api.admin import repository
from api.admin.db import connection
from api.admin.errors import LoyaltyClubExists, UnknownClient, UnknownLoyaltyClub, UnknownPermit
from api.admin.repository import ApiClient, LoyaltyClub
from api.permits import ALL_PERMITS, normalize_permit
from api.tokens import hash_token, new_token

DEFAULT_RETENTION_DAYS = 90


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
        lc_id = await repository.insert_lc(conn, slug, name, settings)
    if lc_id is None:
        raise LoyaltyClubExists(slug)
    return lc_id


async def create_client(url: str, lc_slugs: list[str], name: str, permits: list[str]) -> str:
    """Store a new API client for the LCs; returns its token, which exists nowhere else afterwards."""
    checked = check_permits(permits)
    async with connection(url) as conn:
        lc_ids = await repository.lc_ids_by_slug(conn, lc_slugs)
        unknown = set(lc_slugs) - set(lc_ids)
        if unknown:
            raise UnknownLoyaltyClub(sorted(unknown))
        token = new_token()
        await repository.insert_client(conn, name, hash_token(token), checked, list(lc_ids.values()))
    return token


async def list_lcs(url: str) -> list[LoyaltyClub]:
    """Every LC with its member count and its API clients not revoked, oldest first."""
    async with connection(url) as conn:
        return await repository.all_lcs(conn)


async def list_clients(url: str, lc_slug: str) -> list[ApiClient]:
    """The API clients that may act for the LC, revoked ones included, oldest first."""
    async with connection(url) as conn:
        lc_id = (await repository.lc_ids_by_slug(conn, [lc_slug])).get(lc_slug)
        if lc_id is None:
            raise UnknownLoyaltyClub([lc_slug])
        return await repository.clients_of(conn, lc_id)


async def revoke_client(url: str, client_id: int) -> tuple[datetime, bool]:
    """Refuse the client's token from now on; returns when it was revoked and whether it was already."""
    async with connection(url) as conn:
        revoked = await repository.revoke(conn, client_id)
    if revoked is None:
        raise UnknownClient(client_id)
    return revoked
