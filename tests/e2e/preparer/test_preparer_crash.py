"""Fault test: a preparer replica killed (SIGKILL) in the middle of a 200 000-member sending.

Two preparer replicas on a broker of their own (so no other test's services take these events), ranges of
50 000 members spread over them. One replica is killed while the sending is half prepared and started
again; the sending must end with exactly one dispatch per reachable, consenting member, and counts that
add up to the audience.
"""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from faststream.kafka import KafkaBroker
from tests.infra import broker_for_tests, eventually
from tests.infra_choice import Infra
from tests.seed import create_lc_row, create_sms_audience_sending, member_rows, seed_members

from devstack.services import ServiceProcesses
from shared.events import SendingScheduled
from shared.events.topics import ensure_topics
from shared.kafka import publish_events

AUDIENCE_SIZE = 200_000
EVERYONE = [{"condition_group": "member_properties", "field": "points", "operator": "gte", "value": 0}]


@pytest.fixture(scope="module")
def fault_broker(tmp_path_factory: pytest.TempPathFactory, infra: Infra) -> Iterator[str]:
    yield from broker_for_tests(tmp_path_factory, "fault-kafka", infra)


@pytest.fixture
async def preparers(
    database_url: str, fault_broker: str, tmp_path: Path
) -> AsyncIterator[tuple[ServiceProcesses, Path]]:
    """Two preparer replicas; stopped afterwards, also when the test fails."""
    await ensure_topics(fault_broker, partitions=6)
    log_path = tmp_path / "preparers.log"
    with log_path.open("a", buffering=1) as log:
        env = {
            "DATABASE_URL": database_url,
            "KAFKA_BOOTSTRAP_SERVERS": fault_broker,
            "LOG_JSON": "true",
            "PREPARER_RANGE_SIZE": "50000",
            "PREPARER_CHUNK_SIZE": "2000",
        }
        services = ServiceProcesses(env, write=log.write, names=("preparer",))
        try:
            yield services, log_path
        finally:
            services.stop_all()


# Long: one story told end to end through the real processes; split, each part would need the whole stack again
async def test_a_preparer_killed_mid_sending_leaves_exactly_one_dispatch_per_reachable_member(
    db: asyncpg.Pool, fault_broker: str, preparers: tuple[ServiceProcesses, Path]
) -> None:
    services, log_path = preparers
    async with db.acquire() as conn:
        lc_id = await create_lc_row(conn, "crash")
        await seed_members(conn, lc_id, AUDIENCE_SIZE)
        sending_id = await create_sms_audience_sending(conn, lc_id, EVERYONE, marketing=True)
    rows = member_rows(lc_id, AUDIENCE_SIZE)  # the same generated members, evaluated here
    reachable = {r[1] for r in rows if r[3] is not None}
    expected = {r[1] for r in rows if r[3] is not None and r[6]["sms_marketing"]["status"]}

    services.start("preparer")
    services.start("preparer", replica=1)

    async def both_ready() -> bool:
        ready = await db.fetchval("SELECT count(*) FROM service_heartbeats WHERE service = 'preparer' AND ready")
        return bool(ready == 2)

    await eventually(both_ready, 90, f"two preparers ready (log: {log_path})")
    broker = KafkaBroker(fault_broker)
    await broker.start()
    try:
        await publish_events(broker, [SendingScheduled(sending_id=sending_id)])
    finally:
        await broker.stop()

    async def part_prepared() -> int:
        count: int = await db.fetchval("SELECT count(*) FROM dispatches WHERE sending_id = $1", sending_id)
        return count if count >= 30_000 else 0

    written = await eventually(part_prepared, 120, "a part of the sending prepared", interval=0.01)
    services.stop("preparer", sig=signal.SIGKILL)
    status_at_kill = await db.fetchval("SELECT status FROM sendings WHERE id = $1", sending_id)
    assert status_at_kill == "preparing", f"the sending was done before the kill ({written} dispatches seen)"
    services.start("preparer")

    async def finished() -> str | None:
        status: str = await db.fetchval("SELECT status FROM sendings WHERE id = $1", sending_id)
        return None if status == "preparing" else status

    assert await eventually(finished, 180, f"the sending prepared after the kill (log: {log_path})") == "prepared"
    dispatched = {r["member_id"] for r in await db.fetch("SELECT member_id FROM dispatches WHERE sending_id = $1",
                                                          sending_id)}  # fmt: skip
    total = await db.fetchval("SELECT count(*) FROM dispatches WHERE sending_id = $1", sending_id)
    assert total == len(expected), "a recipient got two dispatches, or one is missing"
    assert dispatched == expected
    counts = await db.fetchrow(
        "SELECT dispatches_count, members_count, suppressed_count, unreachable_count, planned_count "
        "FROM sendings WHERE id = $1",
        sending_id,
    )
    assert counts is not None
    assert dict(counts) == {
        "dispatches_count": len(expected),
        "members_count": len(expected),
        "suppressed_count": len(reachable) - len(expected),
        "unreachable_count": AUDIENCE_SIZE - len(reachable),
        "planned_count": AUDIENCE_SIZE,
    }
    ranges = await db.fetch("SELECT range_no, done FROM preparation_ranges WHERE sending_id = $1", sending_id)
    assert len(ranges) == 1 + AUDIENCE_SIZE // 50_000
    assert all(r["done"] for r in ranges)
