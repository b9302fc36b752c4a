"""Transmission of a prepared batch: each dispatch claimed as its request leaves, its outcome recorded as it
comes back; then the sending completed when nothing is left unsent, and the batch announced."""

import asyncio
import contextlib
import functools
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import structlog
from faststream.kafka import KafkaBroker

from shared.db import Conn
from shared.domain import IDENTIFIER_BY_CHANNEL, ChannelType, DispatchId, SendingId, TransmissionStatus
from shared.events import DispatchTransmitted
from shared.formats import utcnow
from shared.kafka import Interrupted
from shared.metrics import DISPATCHES_FAILED, DISPATCHES_TRANSMITTED, PROVIDER_LATENCY, PROVIDER_RETRIES
from shared.unit_of_work import UnitOfWork
from shared.unsubscribe import Unsubscription, unsubscribe_link
from transmitter import repository
from transmitter.claims import Claims
from transmitter.departures import Departures
from transmitter.outcomes import Outcomes
from transmitter.pacing import Pacer
from transmitter.providers.base import ChannelProviders, Outgoing, SendResult, TransientProviderError
from transmitter.repository import SendingState, UnsentDispatch

log = structlog.get_logger(__name__)

STOPPED_STATUSES = {"cancelled": "cancelled", "failed": "sending_failed"}


@dataclass
class Sender:
    """How this process talks to providers: each channel's provider, its pacing, the claims, the outcomes.

    A request leaves when its pacer grants it a slot and a call permit (highest priority first) and its dispatch
    is claimed. A transient refusal (5xx, 429, a connection that failed before the request went out) gives the
    claim back and is tried again after an exponential, fully jittered delay, or the provider's `Retry-After`,
    which also pauses every request of the process to that provider; past `retry_deadline` the dispatch fails,
    never sent. Any other failure leaves the outcome unknown: the dispatch fails `ambiguous_outcome` and is never
    resent (a receipt that names it later settles it).

    Once stopped (the process is stopping), no request leaves any more: the calls in flight finish, and what was
    still waiting stays unclaimed for the next transmitter.
    """

    providers: ChannelProviders
    pacers: dict[str, Pacer]  # each channel's rate limit and calls in flight
    claims: Claims
    outcomes: Outcomes
    retry_deadline: float
    retry_base: float
    retry_max: float
    unsubscribe_url: str | None = None  # where the signed unsubscribe links of marketing email point
    unsubscribe_secret: str = ""  # their key; without one marketing email goes without List-Unsubscribe
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)

    def unsubscribe_link(self, lc_id: int, member_id: int | None, channel: str) -> str | None:
        """The signed link that withdraws a member's marketing consent for the channel (email only, for now)."""
        if channel != ChannelType.EMAIL or member_id is None or not self.unsubscribe_url or not self.unsubscribe_secret:
            return None
        target = Unsubscription(lc_id, member_id, channel)
        return unsubscribe_link(self.unsubscribe_url, self.unsubscribe_secret, target)

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def stop(self) -> None:
        """Send nothing more; requests waiting for a grant or a retry return unsent at once."""
        self._stopping.set()
        for pacer in self.pacers.values():
            pacer.stop()

    async def send(self, message: Outgoing, priority: int | None, departures: Departures) -> SendResult | None:
        """Send one message and hand its outcome to `outcomes`; None when it was not ours to send."""
        result = await self._send(message, priority, departures)
        if result is not None:
            self.outcomes.add(result)
        if result is not None or not self.stopping:  # left unsent by a stop, it keeps its event unacknowledged
            departures.gone(message.dispatch_id)
        return result

    async def _send(self, message: Outgoing, priority: int | None, departures: Departures) -> SendResult | None:
        name = self.providers.by_channel[message.channel].name
        pacer = self.pacers[message.channel]
        deadline = time.monotonic() + self.retry_deadline
        attempt = 0
        while True:
            if not await pacer.slot(priority):
                return None  # stopping: left unclaimed for the next transmitter
            try:
                if not await self.claims.claim(message.dispatch_id):
                    return None
                departures.gone(message.dispatch_id)  # its call is out: from here a crash costs only this call
                return await self._call(name, message)
            except TransientProviderError as exc:
                departures.waiting(message.dispatch_id)
                refused = exc
                if exc.retry_after is not None:  # before the permit goes back, so no grant slips in first
                    pacer.pause(exc.retry_after)
            finally:
                pacer.release()
            await self.claims.release(message.dispatch_id)
            PROVIDER_RETRIES.labels(name).inc()
            attempt += 1
            delay = refused.retry_after
            if delay is None:
                delay = random.uniform(0, min(self.retry_max, self.retry_base * 2**attempt))  # noqa: S311
            if time.monotonic() + delay > deadline:
                log.warning("provider_kept_refusing", dispatch_id=message.dispatch_id, reason=refused.reason)
                return SendResult(message.dispatch_id, error=f"provider_unavailable: {refused.reason}", provider=name,
                                  channel=message.channel, held_claim=False)  # fmt: skip
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)
            if self.stopping:
                return None

    async def _call(self, name: str, message: Outgoing) -> SendResult:
        """The provider call of a claimed dispatch; only a transient refusal raises."""
        started = time.monotonic()
        try:
            result = await self.providers.by_channel[message.channel].send(message)
        except TransientProviderError:
            raise
        except Exception as exc:  # it may or may not have reached the provider: never sent again
            log.warning("provider_call_failed", dispatch_id=message.dispatch_id, error=repr(exc)[:300])
            result = SendResult(message.dispatch_id, error="ambiguous_outcome", provider=name, channel=message.channel)
        finally:
            _latency(name).observe(time.monotonic() - started)
        return SendResult(  # built whole rather than with dataclasses.replace, which costs twice as much
            result.dispatch_id, result.provider_message_id, result.error, result.provider or name, message.channel,
            utcnow(), result.held_claim,
        )  # fmt: skip


# The metrics' children, looked up once per label set: `labels()` takes a lock and builds a key on every call.
@functools.cache
def _latency(provider: str) -> Any:
    return PROVIDER_LATENCY.labels(provider)


@functools.cache
def _transmitted(channel: str, provider: str) -> Any:
    return DISPATCHES_TRANSMITTED.labels(channel, provider)


@functools.cache
def _failed(channel: str, provider: str, reason: str) -> Any:
    return DISPATCHES_FAILED.labels(channel, provider, reason)


def _outgoing(row: UnsentDispatch, state: SendingState, sender: Sender) -> Outgoing:
    link = None
    if state.marketing:  # inline recipients who are not members have no consent of ours to withdraw
        link = sender.unsubscribe_link(state.loyalty_club_id, row.member_id, row.type)
    return Outgoing(
        dispatch_id=row.id,
        channel=row.type,
        recipient=getattr(row, IDENTIFIER_BY_CHANNEL[row.type]),
        content=row.content,
        sender=state.sms_sender,
        unsubscribe_url=link,
    )


async def transmit_batch(
    pool: asyncpg.Pool,
    broker: KafkaBroker,
    sender: Sender,
    sending_id: SendingId,
    dispatch_ids: Sequence[DispatchId],
    departures: Departures | None = None,
) -> None:
    """Send the batch's dispatches that are still unsent; duplicates and late events change nothing. Raises
    `Interrupted` when the sender stopped before all were sent: the rest is for the next transmitter. `departures`
    learns when each dispatch has gone (see `transmitter.departures`)."""
    departures = departures or Departures()
    async with pool.acquire() as conn:
        state = await repository.get_sending_state(conn, sending_id)
        if state is None:
            return
        structlog.contextvars.bind_contextvars(lc_id=state.loyalty_club_id)
        if await _stopped(conn, state, sending_id, dispatch_ids):
            return
        if not state.due:
            return  # prepared early (prescheduled): the scheduler re-announces the batch once it is due
        if state.status == "prepared":
            await repository.start_transmitting(conn, sending_id)
        unsent = await repository.get_unsent_dispatches(conn, sending_id, dispatch_ids)
    messages = [_outgoing(row, state, sender) for row in unsent]
    departures.expect(m.dispatch_id for m in messages)
    sent = await asyncio.gather(*(sender.send(m, state.priority, departures) for m in messages))
    results = [r for r in sent if r is not None]
    await sender.outcomes.flush()
    async with UnitOfWork(pool, broker, atomic=False) as uow:  # the outcomes are recorded: announce them
        if len(results) < len(messages):  # some were not claimed: the sending may have stopped meanwhile
            state = await repository.get_sending_state(uow.conn, sending_id)
            if state is not None:
                await _stopped(uow.conn, state, sending_id, dispatch_ids)
        completed = await repository.complete_if_done(uow.conn, sending_id)
        if results:
            uow.publish(_transmitted_event(sending_id, results))
    if sender.stopping and len(results) < len(messages):
        log.info("batch_interrupted", sending_id=sending_id, dispatches=len(results), left=len(messages) - len(results))
        raise Interrupted
    log.info("batch_transmitted", sending_id=sending_id, dispatches=len(results), sending_completed=completed)


def _transmitted_event(sending_id: SendingId, results: Sequence[SendResult]) -> DispatchTransmitted:
    outcomes = [  # validated from dicts in one call: a quarter of the cost of model_construct per outcome
        {
            "dispatch_id": r.dispatch_id,
            "provider_message_id": r.provider_message_id,
            "error": r.error,
            "outcome": TransmissionStatus.FAILED if r.error else TransmissionStatus.TRANSMITTED,
        }
        for r in results
    ]
    return DispatchTransmitted.model_validate({"sending_id": sending_id, "outcomes": outcomes})


async def _stopped(conn: Conn, state: SendingState, sending_id: SendingId, ids: Sequence[DispatchId]) -> bool:
    """True when the sending was cancelled or failed; its unsent dispatches of the batch then fail, never sent."""
    stopped = "cancelled" if state.deleted else STOPPED_STATUSES.get(state.status)
    if stopped is None:
        return False
    failed = await repository.fail_unsent(conn, sending_id, ids, stopped)
    log.info("batch_not_transmitted", sending_id=sending_id, reason=stopped, dispatches=failed)
    return True


def count_outcomes(results: Sequence[SendResult]) -> None:
    """The transmission metrics, once the outcomes are committed."""
    for result in results:
        if result.error is None:
            _transmitted(result.channel, result.provider).inc()
        else:
            _failed(result.channel, result.provider, result.error.split(":", 1)[0]).inc()
