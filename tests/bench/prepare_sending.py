"""Benchmark: the real preparer process prepares one sending to a generated audience (1 000 000 members by
default, BENCH_AUDIENCE to change; PREPARER_* settings pass through to the preparer), once with one preparer
process and once with BENCH_REPLICAS (default 2) sharing the sending's ranges.

Prints dispatches per second from `preparing` to `prepared`, the preparer's peak memory (VmHWM), and, on the
same database in the same run, raw `COPY` rows per second of the very dispatch rows it wrote.
Uses DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS when set, else embedded servers of its own.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
from faststream.kafka import KafkaBroker
from tests.infra import create_template_database, create_test_database, drop_database, eventually
from tests.seed import create_lc_row, create_sms_audience_sending, seed_members

from devstack.infra import EmbeddedPostgres, TansuBroker
from devstack.services import ServiceProcesses
from shared.db import init_connection, migrate
from shared.events import SendingScheduled
from shared.events.topics import ensure_topics
from shared.kafka import publish_events

AUDIENCE = [{"condition_group": "member_properties", "field": "points", "operator": "gte", "value": 0}]


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def raw_copy_rate(conn: asyncpg.Connection, sending_id: int) -> tuple[int, float]:
    """COPY of the same dispatch rows into a table shaped like dispatches (same indexes): the ceiling."""
    columns = ("id", "sending_id", "loyalty_club_id", "recipient_key", "type", "content", "member_id", "msisdn",
               "email", "app_token", "transmission_status", "error", "scheduled_at")  # fmt: skip
    rows = await conn.fetch(f"SELECT {', '.join(columns)} FROM dispatches WHERE sending_id = $1", sending_id)  # noqa: S608
    records = [tuple(r) for r in rows]
    await conn.execute("CREATE TABLE raw_dispatches (LIKE dispatches INCLUDING ALL)")
    started = time.monotonic()
    await conn.copy_records_to_table("raw_dispatches", columns=columns, records=records)
    return len(records), len(records) / (time.monotonic() - started)


async def run(database_url: str, kafka: str, count: int, replicas: int) -> None:
    await ensure_topics(kafka, partitions=6)
    conn = await asyncpg.connect(database_url)
    await init_connection(conn)
    services = ServiceProcesses({"DATABASE_URL": database_url, "KAFKA_BOOTSTRAP_SERVERS": kafka, "LOG_JSON": "true"},
                                write=lambda line: None, names=("preparer",))  # fmt: skip
    broker = KafkaBroker(kafka)
    try:
        lc_id = await create_lc_row(conn, "bench")
        started = time.monotonic()
        await seed_members(conn, lc_id, count)
        print(f"seeded {count:,} members in {time.monotonic() - started:.1f} s", file=sys.stderr)
        sending_id = await create_sms_audience_sending(conn, lc_id, AUDIENCE)
        processes = [services.start("preparer", replica=i) for i in range(replicas)]

        async def ready() -> bool:
            count = await conn.fetchval("SELECT count(*) FROM service_heartbeats WHERE service = 'preparer' AND ready")
            return bool(count == replicas)

        await eventually(ready, 90, "the preparers ready")
        await broker.start()
        started = time.monotonic()
        await publish_events(broker, [SendingScheduled(sending_id=sending_id)])

        async def prepared() -> str | None:
            status: str = await conn.fetchval("SELECT status FROM sendings WHERE id = $1", sending_id)
            return None if status == "preparing" else status

        status = await eventually(prepared, 1800, "the sending prepared", interval=0.05)
        seconds = time.monotonic() - started
        peak = max(peak_rss_mb(p.pid) for p in processes)
        counts = await conn.fetchrow(
            "SELECT dispatches_count, suppressed_count, unreachable_count, planned_count FROM sendings WHERE id = $1",
            sending_id,
        )
        assert counts is not None
        copied, copy_rate = await raw_copy_rate(conn, sending_id)
    finally:
        services.stop_all()
        await broker.stop()
        await conn.close()
    rate = counts["dispatches_count"] / seconds
    print(
        f"preparation of {count:,} members by {replicas} preparer process(es): {status}, "
        f"{counts['dispatches_count']:,} dispatches "
        f"(+{counts['suppressed_count']:,} suppressed, {counts['unreachable_count']:,} unreachable) "
        f"in {seconds:.1f} s = {rate:,.0f} dispatches/s; peak memory of a preparer {peak:.0f} MB\n"
        f"raw COPY of the same {copied:,} rows into a table like dispatches: {copy_rate:,.0f} rows/s "
        f"(preparation at {rate / copy_rate:.0%} of raw COPY; target 33%)"
    )


async def main() -> None:
    count = int(os.environ.get("BENCH_AUDIENCE", "1000000"))
    replicas = int(os.environ.get("BENCH_REPLICAS", "2"))
    with tempfile.TemporaryDirectory() as folder:
        server = kafka_server = None
        url = os.environ.get("DATABASE_URL")
        kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        if not url:
            server = EmbeddedPostgres(Path(folder) / "pg").start()
            url = server.url
        if not kafka:
            kafka_server = TansuBroker(log_file=Path(folder) / "tansu.log").start()
            kafka = kafka_server.bootstrap_servers
        try:
            await create_template_database(url)
            for processes in sorted({1, replicas}):
                database = await create_test_database(url)
                await migrate(database)
                await run(database, kafka, count, processes)
                await drop_database(url, database)
        finally:
            if kafka_server:
                kafka_server.stop()
            if server:
                server.stop()


if __name__ == "__main__":
    asyncio.run(main())
