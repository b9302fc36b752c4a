"""The members read model: applying the member service's events."""

import asyncpg
import structlog

from api.repository import members as repository
from shared.events import MemberDeleted, MemberUpserted
from shared.kafka import Unprocessable

log = structlog.get_logger(__name__)


class UnknownLoyaltyClub(Unprocessable):
    """A member event of an LC this platform does not have (yet): the event goes to `<topic>.dlq`, unchanged, to
    be replayed once the LC exists, and nothing is written.

    Dead-lettered at once rather than after the retries: an LC is created by an operator (`messaging-admin
    create-lc`), not within the seconds the retries last, and every retry holds the partition, so a member service
    publishing a whole LC's members before the LC exists here would stall the member events of every LC for
    hours. Dropping it (as before) lost the member for good.
    """

    def __init__(self, slug: str) -> None:
        super().__init__(f"unknown loyalty club {slug!r}")
        self.slug = slug


async def apply_member_upserted(pool: asyncpg.Pool, event: MemberUpserted) -> None:
    """Store the member unless we hold a newer version (or a newer deletion) already; `UnknownLoyaltyClub`
    when its LC is not here."""
    async with pool.acquire() as conn:
        lc_id = await repository.get_loyalty_club_id(conn, event.loyalty_club)
        if lc_id is None:
            raise UnknownLoyaltyClub(event.loyalty_club)
        row = event.model_dump(include=set(repository.FIELDS) - {"id"}) | {"id": event.member_id}
        written = await repository.upsert_members(conn, lc_id, [row])
    if not written:
        log.info("member_upsert_ignored", member_id=event.member_id, reason="older than the version held")


async def apply_member_deleted(pool: asyncpg.Pool, event: MemberDeleted) -> None:
    """Wipe the member and the identifiers and content of its dispatches; `UnknownLoyaltyClub` when its LC is not
    here."""
    async with pool.acquire() as conn, conn.transaction():
        lc_id = await repository.get_loyalty_club_id(conn, event.loyalty_club)
        if lc_id is None:
            raise UnknownLoyaltyClub(event.loyalty_club)
        if not await repository.delete_member(conn, lc_id, event.member_id, event.deleted_at):
            log.info("member_delete_ignored", member_id=event.member_id, reason="a newer version is held")
