"""What the transmitter's integration tests share: providers written by hand at the edge, which hold each call
until the test lets it go or refuse it once, a sending of sms dispatches, and one transmitter process's sender."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import asyncpg
from tests.seed import create_lc_row

from shared.domain import DispatchId, SendingId
from transmitter.claims import Claims
from transmitter.outcomes import Outcomes
from transmitter.pacing import Pacer
from transmitter.providers.base import ChannelProviders, Outgoing, SendResult, TransientProviderError
from transmitter.service import Sender


@dataclass
class HeldProvider:
    """Takes every message, but answers a call only once the test releases it (one by one, or all)."""

    name: str = "held"
    calls: list[DispatchId] = field(default_factory=list)
    gates: dict[DispatchId, asyncio.Event] = field(default_factory=dict)
    open: bool = False

    async def send(self, message: Outgoing) -> SendResult:
        self.calls.append(message.dispatch_id)
        gate = self.gates.setdefault(message.dispatch_id, asyncio.Event())
        if self.open:
            gate.set()
        await gate.wait()
        return SendResult(message.dispatch_id, provider_message_id=f"M{message.dispatch_id}", provider=self.name)

    def release(self, *ids: DispatchId) -> None:
        for dispatch_id in ids:
            self.gates.setdefault(dispatch_id, asyncio.Event()).set()

    def release_all(self) -> None:
        self.open = True
        self.release(*self.gates)

    async def close(self) -> None:
        return None


async def sms_sending(db: asyncpg.Pool, count: int, status: str = "transmitting") -> tuple[SendingId, list[DispatchId]]:
    """A sending (under transmission, or in `status`) with `count` sms dispatches."""
    async with db.acquire() as conn:
        lc_id = await create_lc_row(conn, "lc")
        message_id = await conn.fetchval(
            "INSERT INTO messages (loyalty_club_id, service, name) VALUES ($1, 'generic', 'T') RETURNING id", lc_id
        )
        sending_id = await conn.fetchval(
            "INSERT INTO sendings (loyalty_club_id, message_id, status, scheduled_at) VALUES ($1, $2, $3, now()) "
            "RETURNING id",
            lc_id,
            message_id,
            status,
        )
        rows = await conn.fetch(
            "INSERT INTO dispatches (sending_id, loyalty_club_id, recipient_key, type, content, msisdn) "
            "SELECT $1, $2, 'k' || i, 'sms', '{\"body\": \"Hei\"}', '4790' || lpad(i::text, 6, '0') "
            "FROM generate_series(1, $3) AS i RETURNING id",
            sending_id,
            lc_id,
            count,
        )
    return SendingId(sending_id), sorted(DispatchId(r["id"]) for r in rows)


@contextlib.asynccontextmanager
async def transmitter(db: asyncpg.Pool, provider: object, concurrency: int, **retry: float) -> AsyncIterator[Sender]:
    """One transmitter process's sender with its claims and outcomes loops running; stopping it is a crash."""
    sender = Sender(
        ChannelProviders({"sms": provider}),  # type: ignore[dict-item]
        {"sms": Pacer(rate=100_000, concurrency=concurrency)},
        Claims(db, lease_seconds=60),
        Outcomes(db, flush_seconds=0.1),
        retry.get("deadline", 30),
        retry.get("base", 0.01),
        retry.get("max", 0.1),
    )
    loops = [asyncio.create_task(sender.claims.run()), asyncio.create_task(sender.outcomes.run())]
    try:
        yield sender
    finally:
        for loop in loops:
            loop.cancel()
        await asyncio.gather(*loops, return_exceptions=True)


@dataclass
class RefusingOnce:
    """Refuses each message's first call (of those in `only`, when given) with 503 and `Retry-After`, accepts the
    next; records the calls it saw."""

    retry_after: float
    only: set[DispatchId] | None = None
    name: str = "refusing"
    calls: list[tuple[DispatchId, float]] = field(default_factory=list)

    async def send(self, message: Outgoing) -> SendResult:
        self.calls.append((message.dispatch_id, asyncio.get_running_loop().time()))
        refused = self.only is None or message.dispatch_id in self.only
        if refused and sum(1 for d, _ in self.calls if d == message.dispatch_id) == 1:
            raise TransientProviderError("503", retry_after=self.retry_after)
        return SendResult(message.dispatch_id, provider_message_id=f"M{message.dispatch_id}", provider=self.name)

    async def close(self) -> None:
        return None


async def at_least(items: Sequence[object], count: int) -> bool:
    return len(items) >= count
