"""Transmission of a prepared batch: claim, send through the provider, record, announce, complete."""

import asyncio
from collections.abc import Sequence
from typing import Any

import asyncpg
import structlog
from faststream.kafka import KafkaBroker

from shared.domain import DispatchId, SendingId, TransmissionStatus
from shared.events import DispatchTransmitted, TransmissionOutcome
from shared.kafka import publish_events
from transmitter import repository
from transmitter.providers.base import ChannelProviders, Outgoing, SendResult

log = structlog.get_logger(__name__)

STOPPED_STATUSES = {"cancelled": "cancelled", "failed": "sending_failed"}
IDENTIFIER_BY_CHANNEL = {"sms": "msisdn", "email": "email", "push": "app_token"}


async def _send_all(
    provider: ChannelProviders, claimed: Sequence[dict[str, Any]], sender: str | None, concurrency: asyncio.Semaphore
) -> list[SendResult]:
    async def send_one(row: dict[str, Any]) -> SendResult:
        message = Outgoing(
            dispatch_id=row["id"],
            channel=row["type"],
            recipient=row[IDENTIFIER_BY_CHANNEL[row["type"]]],
            content=row["content"],
            sender=sender,
        )
        async with concurrency:
            try:
                return await provider.send(message)
            except Exception as exc:
                log.warning("provider_call_failed", dispatch_id=row["id"], error=repr(exc)[:300])
                name = provider.by_channel[row["type"]].name
                return SendResult(dispatch_id=row["id"], error="ambiguous_outcome", provider=name)

    return list(await asyncio.gather(*(send_one(r) for r in claimed)))


async def transmit_batch(
    pool: asyncpg.Pool,
    broker: KafkaBroker,
    provider: ChannelProviders,
    sending_id: SendingId,
    dispatch_ids: Sequence[DispatchId],
    lease_seconds: float,
    concurrency: asyncio.Semaphore,
) -> None:
    """Send the batch's dispatches that are still unsent; duplicates and late events change nothing."""
    async with pool.acquire() as conn:
        state = await repository.get_sending_state(conn, sending_id)
        if state is None:
            return
        stopped = "cancelled" if state["deleted"] else STOPPED_STATUSES.get(state["status"])
        if stopped is not None:
            failed = await repository.fail_unsent(conn, sending_id, dispatch_ids, stopped)
            log.info("batch_not_transmitted", sending_id=sending_id, reason=stopped, dispatches=failed)
            return
        if not state["due"]:
            return  # prepared early (prescheduled): the scheduler re-announces the batch once it is due
        if state["status"] == "prepared":
            await repository.start_transmitting(conn, sending_id)
        claimed = await repository.claim_dispatches(conn, sending_id, dispatch_ids, lease_seconds)
    results = await _send_all(provider, claimed, state["sms_sender"], concurrency) if claimed else []
    async with pool.acquire() as conn, conn.transaction():
        if results:
            await repository.record_results(conn, results)
        completed = await repository.complete_if_done(conn, sending_id)
    await provider.recorded(results)
    if results:
        outcomes = [
            TransmissionOutcome(
                dispatch_id=r.dispatch_id,
                provider_message_id=r.provider_message_id,
                error=r.error,
                outcome=TransmissionStatus.FAILED if r.error else TransmissionStatus.TRANSMITTED,
            )
            for r in results
        ]
        await publish_events(
            broker, [DispatchTransmitted(sending_id=sending_id, outcomes=outcomes)], lambda _: str(sending_id)
        )
    log.info("batch_transmitted", sending_id=sending_id, dispatches=len(results), sending_completed=completed)
