"""The transmitter's bookkeeping against real PostgreSQL and the real broker: a dispatch is claimed only while its
own request is in flight, its outcome is in the database a moment after the provider answered, and a crash
leaves only the calls in flight without an outcome.

The providers here are written by hand at the edge: they hold each call until the test lets it go.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import asyncpg
import pytest
from faststream.kafka import KafkaBroker
from tests.infra import eventually
from tests.seed import create_lc_row

from scheduler.repository import fail_expired_claims
from shared.domain import DispatchId, SendingId
from shared.events.topics import ensure_topics
from shared.kafka import Interrupted
from transmitter import repository
from transmitter.claims import Claims
from transmitter.outcomes import Outcomes
from transmitter.pacing import Pacer
from transmitter.providers.base import ChannelProviders, Outgoing, SendResult, TransientProviderError
from transmitter.service import Sender, transmit_batch


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


@pytest.fixture
async def broker(kafka_bootstrap: str) -> AsyncIterator[KafkaBroker]:
    await ensure_topics(kafka_bootstrap, partitions=3)
    broker = KafkaBroker(kafka_bootstrap)
    await broker.start()
    try:
        yield broker
    finally:
        await broker.stop()


async def claimed_ids(db: asyncpg.Pool, sending_id: SendingId) -> set[int]:
    rows = await db.fetch(
        "SELECT id FROM dispatches WHERE sending_id = $1 AND transmission_status = 'scheduled' "
        "AND claimed_until IS NOT NULL",
        sending_id,
    )
    return {r["id"] for r in rows}


async def test_only_calls_in_flight_are_claimed_and_a_crash_costs_only_those(
    db: asyncpg.Pool, broker: KafkaBroker
) -> None:
    sending_id, ids = await sms_sending(db, 20)
    first = HeldProvider()
    async with transmitter(db, first, concurrency=5) as sender:
        batch = asyncio.create_task(transmit_batch(db, broker, sender, sending_id, ids))
        await eventually(lambda: _at_least(first.calls, 5), 10, "5 calls in flight")
        assert await claimed_ids(db, sending_id) == set(first.calls), "claimed: exactly the calls in flight"
        batch.cancel()  # the process dies with 5 calls in flight
        with contextlib.suppress(asyncio.CancelledError):
            await batch
    in_flight = set(first.calls)
    assert len(in_flight) == 5

    # The next transmitter takes the batch at once: it sends the 15 never attempted, never the 5 in flight.
    second = HeldProvider()
    second.release_all()
    async with transmitter(db, second, concurrency=5) as sender:
        await transmit_batch(db, broker, sender, sending_id, ids)
    assert sorted(second.calls) == sorted(set(ids) - in_flight)
    await db.execute(
        "UPDATE dispatches SET claimed_until = now() - interval '1 second' WHERE claimed_until IS NOT NULL"
    )
    async with db.acquire() as conn:
        await fail_expired_claims(conn)
    rows = await db.fetch("SELECT id, transmission_status, error FROM dispatches WHERE sending_id = $1", sending_id)
    ambiguous = {r["id"] for r in rows if r["error"] == "ambiguous_outcome"}
    assert ambiguous == in_flight, "only the calls in flight at the crash are of unknown outcome"
    assert {r["transmission_status"] for r in rows if r["id"] not in ambiguous} == {"transmitted"}


async def test_a_stopping_transmitter_finishes_its_calls_in_flight_and_leaves_the_rest_unclaimed_at_once(
    db: asyncpg.Pool, broker: KafkaBroker
) -> None:
    """SIGTERM mid-batch: the calls in flight are answered and recorded, nothing else goes out, the batch is given
    back (`Interrupted`: its Kafka message comes again) and the next transmitter sends exactly the rest."""
    sending_id, ids = await sms_sending(db, 40)
    first = HeldProvider()
    async with transmitter(db, first, concurrency=5) as sender:
        sender.pacers["sms"] = Pacer(rate=20, concurrency=5)  # 2 s for this batch: the stop comes in the middle
        batch = asyncio.create_task(transmit_batch(db, broker, sender, sending_id, ids))
        await eventually(lambda: _at_least(first.calls, 5), 10, "5 calls in flight")
        sender.stop()
        stopped_at = time.monotonic()
        first.release_all()
        with pytest.raises(Interrupted):
            await batch
        took = time.monotonic() - stopped_at
    sent = set(first.calls)
    assert len(sent) == 5, "nothing left after the stop but the calls in flight"
    assert took < 1.0, f"the batch was given back {took:.2f} s after the stop"
    rows = await db.fetch(
        "SELECT id, transmission_status, claimed_until FROM dispatches WHERE sending_id = $1", sending_id
    )
    assert {r["id"] for r in rows if r["transmission_status"] == "transmitted"} == sent
    assert all(r["claimed_until"] is None for r in rows if r["id"] not in sent), "the rest free for the next one"

    second = HeldProvider(open=True)
    async with transmitter(db, second, concurrency=5) as sender:
        await transmit_batch(db, broker, sender, sending_id, ids)
    assert sorted(second.calls) == sorted(set(ids) - sent)


async def test_each_outcome_is_recorded_a_moment_after_its_answer_while_the_batch_goes_on(
    db: asyncpg.Pool, broker: KafkaBroker
) -> None:
    sending_id, ids = await sms_sending(db, 10)
    provider = HeldProvider()
    async with transmitter(db, provider, concurrency=10) as sender:
        batch = asyncio.create_task(transmit_batch(db, broker, sender, sending_id, ids))
        await eventually(lambda: _at_least(provider.calls, 10), 10, "every call in flight")
        answered = ids[:4]
        provider.release(*answered)
        released_at = time.monotonic()

        async def recorded() -> bool:
            rows = await db.fetch(
                "SELECT id FROM dispatches WHERE id = ANY($1) AND transmission_status = 'transmitted' "
                "AND provider_message_id = 'M' || id",
                answered,
            )
            return len(rows) == len(answered)

        await eventually(recorded, 2, "the answered calls recorded while the others are still in flight", 0.01)
        recorded_after = time.monotonic() - released_at
        assert not batch.done()
        assert await claimed_ids(db, sending_id) == set(ids[4:]), "the rest still in flight"
        provider.release_all()
        await batch
    assert recorded_after < 1.0, f"outcomes reached the database {recorded_after:.2f} s after the answers"
    times = await db.fetch("SELECT id, transmitted_at FROM dispatches WHERE sending_id = $1 ORDER BY id", sending_id)
    first_answers = max(r["transmitted_at"] for r in times if r["id"] in answered)
    assert all(r["transmitted_at"] > first_answers for r in times if r["id"] not in answered), (
        "transmitted_at is the time of each answer, not the end of the batch"
    )
    status = await db.fetchval("SELECT status FROM sendings WHERE id = $1", sending_id)
    assert status == "transmitted"


async def test_dispatches_announced_while_their_sending_is_still_being_prepared_are_sent_at_once(
    db: asyncpg.Pool, broker: KafkaBroker
) -> None:
    """The preparer announces each chunk as it commits it, long before the last one (23 s of a 1 000 000-member
    sending): those dispatches go out then, not after the re-drive finds them left over."""
    sending_id, ids = await sms_sending(db, 30, status="preparing")
    provider = HeldProvider(open=True)
    async with transmitter(db, provider, concurrency=10) as sender:
        await transmit_batch(db, broker, sender, sending_id, ids)
    assert sorted(provider.calls) == ids
    statuses = await db.fetch("SELECT DISTINCT transmission_status FROM dispatches WHERE sending_id = $1", sending_id)
    assert [r["transmission_status"] for r in statuses] == ["transmitted"]


@dataclass
class RefusingOnce:
    """Refuses each message's first call with 503 and `Retry-After`, accepts the next; records claims seen."""

    retry_after: float
    name: str = "refusing"
    calls: list[tuple[DispatchId, float]] = field(default_factory=list)

    async def send(self, message: Outgoing) -> SendResult:
        self.calls.append((message.dispatch_id, asyncio.get_running_loop().time()))
        if sum(1 for d, _ in self.calls if d == message.dispatch_id) == 1:
            raise TransientProviderError("503", retry_after=self.retry_after)
        return SendResult(message.dispatch_id, provider_message_id=f"M{message.dispatch_id}", provider=self.name)

    async def close(self) -> None:
        return None


async def test_a_refused_request_gives_its_claim_back_and_nothing_goes_out_before_retry_after(
    db: asyncpg.Pool, broker: KafkaBroker
) -> None:
    sending_id, ids = await sms_sending(db, 2)
    provider = RefusingOnce(retry_after=0.5)
    async with transmitter(db, provider, concurrency=1) as sender:
        batch = asyncio.create_task(transmit_batch(db, broker, sender, sending_id, ids))
        await eventually(lambda: _at_least(provider.calls, 1), 10, "the first call refused")

        async def given_back() -> bool:
            return not await claimed_ids(db, sending_id)

        await eventually(given_back, 0.4, "the refused dispatch unclaimed while it waits", 0.01)
        await batch
    first_at = provider.calls[0][1]
    assert all(at - first_at >= 0.5 - 1e-3 for _, at in provider.calls[1:]), "a request went out during the pause"
    rows = await db.fetch("SELECT transmission_status FROM dispatches WHERE sending_id = $1", sending_id)
    assert [r["transmission_status"] for r in rows] == ["transmitted", "transmitted"]


async def _at_least(items: Sequence[object], count: int) -> bool:
    return len(items) >= count


class PlanRecorder:
    """A real connection that also records the plan of each statement run through it (EXPLAIN, same arguments)."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.plans: list[str] = []

    async def _explain(self, sql: str, args: tuple[object, ...]) -> None:
        self.plans.append("\n".join(r[0] for r in await self.conn.fetch("EXPLAIN " + sql, *args)))

    async def fetch(self, sql: str, *args: object) -> list[asyncpg.Record]:
        await self._explain(sql, args)
        return await self.conn.fetch(sql, *args)

    async def execute(self, sql: str, *args: object) -> str:
        await self._explain(sql, args)
        return await self.conn.execute(sql, *args)


async def test_the_hot_statements_find_dispatches_by_id_even_with_statistics_from_before_the_sending(
    db: asyncpg.Pool,
) -> None:
    """Statistics taken before a large sending was prepared (here: of an empty table) once made the planner read
    every unsent dispatch of the sending through the partial index for each claim: quadratic for a big sending."""
    async with db.acquire() as conn:
        await conn.execute("ANALYZE")
    sending_id, ids = await sms_sending(db, 20_000)
    async with db.acquire() as conn:
        recorder = PlanRecorder(conn)  # type: ignore[arg-type]
        await repository.get_unsent_dispatches(recorder, sending_id, ids[:1000])  # type: ignore[arg-type]
        await repository.claim_dispatches(recorder, ids[:50], 60)  # type: ignore[arg-type]
        await repository.release_claims(recorder, ids[:5])  # type: ignore[arg-type]
        answered = [SendResult(i, f"M{i}", None, "held", "sms", datetime.now(UTC)) for i in ids[5:50]]
        await repository.record_outcomes(recorder, answered)  # type: ignore[arg-type]
        await repository.fail_unsent(recorder, sending_id, ids[1000:2000], "cancelled")  # type: ignore[arg-type]
    assert len(recorder.plans) == 5
    for plan in recorder.plans:
        assert "dispatches_pkey" in plan, plan
        assert "dispatches_untransmitted" not in plan, plan
        assert "Seq Scan on dispatches" not in plan, plan
