"""Kafka handlers of the api: translate a member service's event into a service call (the members read model)."""

from collections.abc import Awaitable, Callable

from api.service.members import apply_member_deleted, apply_member_upserted
from shared.events import MemberDeleted, MemberUpserted
from shared.runtime import Runtime


def on_member_upserted(runtime: Runtime) -> Callable[[MemberUpserted], Awaitable[None]]:
    async def handle(event: MemberUpserted) -> None:
        """A member was created or changed: keep the newest version."""
        await apply_member_upserted(runtime.pool, event)

    return handle


def on_member_deleted(runtime: Runtime) -> Callable[[MemberDeleted], Awaitable[None]]:
    async def handle(event: MemberDeleted) -> None:
        """A member was deleted: wipe it and its personal data."""
        await apply_member_deleted(runtime.pool, event)

    return handle
