"""Kafka handlers of the api: translate a platform service's event into a service call (the members read model,
sendings requested through Kafka)."""

import asyncio
from collections.abc import Awaitable, Callable

from api.config import ApiSettings
from api.service.members import apply_member_deleted, apply_member_upserted
from api.service.requests import request_sending
from shared.events import MemberDeleted, MemberUpserted, SendingRejected, SendingRequested
from shared.kafka import publish_events
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


def on_sending_requests(runtime: Runtime, settings: ApiSettings) -> Callable[[list[SendingRequested]], Awaitable[None]]:
    slots = asyncio.Semaphore(settings.sending_request_concurrency)

    async def one(event: SendingRequested) -> SendingRejected | None:
        async with slots, runtime.pool.acquire() as conn:
            return await request_sending(conn, event, settings.sending_request_services)

    async def handle(events: list[SendingRequested]) -> None:
        """A batch of requests, several at a time, each in its own transaction (two deliveries of one request meet
        at the unique index); the refusals published together once all are done. A crash before that redelivers
        the batch: created ones are skipped, refused ones refused again, under the same ids."""
        refusals = await asyncio.gather(*(one(event) for event in events))
        await publish_events(runtime.broker, [r for r in refusals if r is not None])

    return handle
