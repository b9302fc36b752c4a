"""The members read model: applying the member service's events."""

import asyncpg
import structlog

from api.repository import members as repository
from shared.events import MemberDeleted, MemberUpserted

log = structlog.get_logger(__name__)


async def apply_member_upserted(pool: asyncpg.Pool, event: MemberUpserted) -> None:
    """Store the member unless we hold a newer version (or a newer deletion) already."""
    async with pool.acquire() as conn:
        lc_id = await repository.get_loyalty_club_id(conn, event.loyalty_club)
        if lc_id is None:
            log.warning("member_event_for_unknown_lc", loyalty_club=event.loyalty_club, member_id=event.member_id)
            return
        row = event.model_dump(include=set(repository.FIELDS) - {"id"}) | {"id": event.member_id}
        written = await repository.upsert_members(conn, lc_id, [row])
    if not written:
        log.info("member_upsert_ignored", member_id=event.member_id, reason="older than the version held")


async def apply_member_deleted(pool: asyncpg.Pool, event: MemberDeleted) -> None:
    """Wipe the member and the identifiers and content of its dispatches."""
    async with pool.acquire() as conn, conn.transaction():
        lc_id = await repository.get_loyalty_club_id(conn, event.loyalty_club)
        if lc_id is None:
            log.warning("member_event_for_unknown_lc", loyalty_club=event.loyalty_club, member_id=event.member_id)
            return
        if not await repository.delete_member(conn, lc_id, event.member_id, event.deleted_at):
            log.info("member_delete_ignored", member_id=event.member_id, reason="a newer version is held")
