"""Transmission of a prepared batch: claim, send through the provider, record, announce, complete."""

import asyncio
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import structlog
from faststream.kafka import KafkaBroker

from shared.domain import DispatchId, SendingId, TransmissionStatus
from shared.events import DispatchTransmitted, TransmissionOutcome
from shared.kafka import publish_events
from shared.metrics import DISPATCHES_FAILED, DISPATCHES_TRANSMITTED, PROVIDER_LATENCY, PROVIDER_RETRIES
from transmitter import repository
from transmitter.pacing import Pacer
from transmitter.providers.base import (
    UNREGISTERED_TOKEN,
    ChannelProviders,
    Outgoing,
    SendResult,
    TransientProviderError,
)

log = structlog.get_logger(__name__)

STOPPED_STATUSES = {"cancelled": "cancelled", "failed": "sending_failed"}
IDENTIFIER_BY_CHANNEL = {"sms": "msisdn", "email": "email", "push": "app_token"}


@dataclass
class Sender:
    """How this process talks to providers: each channel's provider, its pacing, bounded concurrency, retries.

    A transient refusal (5xx, 429, a connection that failed before the request went out) is tried again
    after an exponential, fully jittered delay, or the provider's `Retry-After`, which also pauses every
    request of the process to that provider; past `retry_deadline` the dispatch fails, never sent. Any
    other failure leaves the outcome unknown: the dispatch fails `ambiguous_outcome` and is never resent.
    """

    providers: ChannelProviders
    pacers: dict[str, Pacer]  # each channel's rate limit and calls in flight
    retry_deadline: float
    retry_base: float
    retry_max: float

    async def send(self, message: Outgoing, priority: int | None) -> SendResult:
        """Send one message when its pacer grants it a slot and a call permit (highest priority first); no
        permit is held while waiting for a grant or backing off before a retry."""
        name = self.providers.by_channel[message.channel].name
        pacer = self.pacers[message.channel]
        deadline = time.monotonic() + self.retry_deadline
        attempt = 0
        while True:
            await pacer.slot(priority)
            started = time.monotonic()
            try:
                return await self.providers.send(message)
            except TransientProviderError as exc:
                refused = exc
                if exc.retry_after is not None:  # before the permit goes back, so no grant slips in first
                    pacer.pause(exc.retry_after)
            except Exception as exc:
                log.warning("provider_call_failed", dispatch_id=message.dispatch_id, error=repr(exc)[:300])
                return SendResult(message.dispatch_id, error="ambiguous_outcome", provider=name)
            finally:
                pacer.release()
                PROVIDER_LATENCY.labels(name).observe(time.monotonic() - started)
            PROVIDER_RETRIES.labels(name).inc()
            attempt += 1
            delay = refused.retry_after
            if delay is None:
                delay = random.uniform(0, min(self.retry_max, self.retry_base * 2**attempt))  # noqa: S311
            if time.monotonic() + delay > deadline:
                log.warning("provider_kept_refusing", dispatch_id=message.dispatch_id, reason=refused.reason)
                return SendResult(message.dispatch_id, error=f"provider_unavailable: {refused.reason}", provider=name)
            await asyncio.sleep(delay)


async def _send_all(
    sender: Sender, claimed: Sequence[dict[str, Any]], sms_sender: str | None, priority: int | None, marketing: bool
) -> list[SendResult]:
    messages = [
        Outgoing(
            dispatch_id=row["id"],
            channel=row["type"],
            recipient=row[IDENTIFIER_BY_CHANNEL[row["type"]]],
            content=row["content"],
            sender=sms_sender,
            marketing=marketing,
        )
        for row in claimed
    ]
    return list(await asyncio.gather(*(sender.send(m, priority) for m in messages)))


async def transmit_batch(
    pool: asyncpg.Pool,
    broker: KafkaBroker,
    sender: Sender,
    sending_id: SendingId,
    dispatch_ids: Sequence[DispatchId],
    lease_seconds: float,
) -> None:
    """Send the batch's dispatches that are still unsent; duplicates and late events change nothing."""
    async with pool.acquire() as conn:
        state = await repository.get_sending_state(conn, sending_id)
        if state is None:
            return
        structlog.contextvars.bind_contextvars(lc_id=state["loyalty_club_id"])
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
    results = (
        await _send_all(sender, claimed, state["sms_sender"], state["priority"], bool(state["marketing"]))
        if claimed
        else []
    )
    async with pool.acquire() as conn, conn.transaction():
        if results:
            await repository.record_results(conn, results)
            gone = [r.dispatch_id for r in results if r.error == UNREGISTERED_TOKEN]
            await repository.clear_unregistered_tokens(conn, gone)
        completed = await repository.complete_if_done(conn, sending_id)
    await sender.providers.recorded(results)
    _count_outcomes(claimed, results)
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


def _count_outcomes(claimed: Sequence[dict[str, Any]], results: Sequence[SendResult]) -> None:
    channel_of = {row["id"]: row["type"] for row in claimed}
    for result in results:
        channel = channel_of.get(result.dispatch_id, "")
        if result.error is None:
            DISPATCHES_TRANSMITTED.labels(channel, result.provider).inc()
        else:
            DISPATCHES_FAILED.labels(channel, result.provider, result.error.split(":", 1)[0]).inc()
