"""The transmitter's bookkeeping against real PostgreSQL and the real broker: a dispatch is claimed only while its
own request is in flight, its outcome is in the database a moment after the provider answered, and a crash
leaves only the calls in flight without an outcome.

The providers here are written by hand at the edge (`tests/integration/transmitting.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, datetime

import asyncpg
import pytest
from faststream.kafka import KafkaBroker
from tests.infra import eventually
from tests.integration.transmitter.transmitting import HeldProvider, RefusingOnce, at_least, sms_sending, transmitter

from scheduler.repository import fail_expired_claims
from shared.domain import SendingId
from shared.kafka import Interrupted
from transmitter import repository
from transmitter.pacing import Pacer
from transmitter.providers.base import SendResult
from transmitter.service import transmit_batch


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
        await eventually(lambda: at_least(first.calls, 5), 10, "5 calls in flight")
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
        await eventually(lambda: at_least(first.calls, 5), 10, "5 calls in flight")
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
        await eventually(lambda: at_least(provider.calls, 10), 10, "every call in flight")
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


async def test_a_refused_request_gives_its_claim_back_and_nothing_goes_out_before_retry_after(
    db: asyncpg.Pool, broker: KafkaBroker
) -> None:
    sending_id, ids = await sms_sending(db, 2)
    provider = RefusingOnce(retry_after=0.5)
    async with transmitter(db, provider, concurrency=1) as sender:
        batch = asyncio.create_task(transmit_batch(db, broker, sender, sending_id, ids))
        await eventually(lambda: at_least(provider.calls, 1), 10, "the first call refused")

        async def given_back() -> bool:
            return not await claimed_ids(db, sending_id)

        await eventually(given_back, 0.4, "the refused dispatch unclaimed while it waits", 0.01)
        await batch
    first_at = provider.calls[0][1]
    assert all(at - first_at >= 0.5 - 1e-3 for _, at in provider.calls[1:]), "a request went out during the pause"
    rows = await db.fetch("SELECT transmission_status FROM dispatches WHERE sending_id = $1", sending_id)
    assert [r["transmission_status"] for r in rows] == ["transmitted", "transmitted"]


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
