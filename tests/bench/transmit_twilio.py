"""Benchmark: the real transmitter sends a sending's sms to a local Twilio-compatible server answering in 1 ms
(BENCH_DISPATCHES, default 20 000), next to raw aiohttp requests per second to the same server, measured in the
same run with the same concurrency (TRANSMIT_CONCURRENCY, default 50). Target: at least half the raw rate.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import asyncpg
from faststream.kafka import KafkaBroker
from tests.bench import cpu
from tests.infra import create_template_database, create_test_database, eventually
from tests.seed import create_lc_row

from devstack.infra import EmbeddedPostgres, TansuBroker
from devstack.processes import free_port, wait_for_port
from devstack.services import ServiceProcesses
from shared.db import init_connection, migrate
from shared.events import DispatchesPrepared
from shared.events.topics import ensure_topics
from shared.kafka import publish_events

ACCOUNT_SID = "AC" + "b2" * 16
CONCURRENCY = int(os.environ.get("TRANSMIT_CONCURRENCY", "50"))


async def raw_rate(url: str, count: int) -> float:
    """aiohttp alone: `count` form POSTs, `CONCURRENCY` in flight, one pooled session."""
    semaphore = asyncio.Semaphore(CONCURRENCY)
    async with aiohttp.ClientSession(
        headers={"Authorization": aiohttp.encode_basic_auth(ACCOUNT_SID, "token")}
    ) as session:

        async def one(i: int) -> None:
            async with semaphore, session.post(url, data={"To": f"+4790{i:06d}", "From": "Bench", "Body": "Hei"}) as r:
                await r.read()

        started = time.monotonic()
        await asyncio.gather(*(one(i) for i in range(count)))
        return count / (time.monotonic() - started)


async def seed(conn: asyncpg.Connection, count: int) -> tuple[int, list[int]]:
    lc_id = await create_lc_row(conn, "bench")
    template_id = await conn.fetchval(
        "INSERT INTO templates (loyalty_club_id, type, content) "
        "VALUES ($1, 'plain', '{\"body\": \"Hei\"}') RETURNING id",
        lc_id,
    )
    message_id = await conn.fetchval(
        "INSERT INTO messages (loyalty_club_id, service, name) VALUES ($1, 'generic', 'B') RETURNING id", lc_id
    )
    await conn.execute(
        "INSERT INTO channels (message_id, position, type, sender, template_id) "
        'VALUES ($1, 0, \'sms\', \'{"type": "alphanumeric", "value": "Bench"}\', $2)',
        message_id,
        template_id,
    )
    sending_id: int = await conn.fetchval(
        "INSERT INTO sendings (loyalty_club_id, message_id, status, scheduled_at) "
        "VALUES ($1, $2, 'prepared', now()) RETURNING id",
        lc_id,
        message_id,
    )
    rows = await conn.fetch(
        "INSERT INTO dispatches (sending_id, loyalty_club_id, recipient_key, type, content, msisdn, scheduled_at) "
        "SELECT $1, $2, 'k' || i, 'sms', '{\"body\": \"Hei fra benken\"}', '4790' || lpad(i::text, 6, '0'), now() "
        "FROM generate_series(1, $3) AS i RETURNING id",
        sending_id,
        lc_id,
        count,
    )
    return sending_id, sorted(r["id"] for r in rows)


async def run(database_url: str, kafka: str, count: int, server_url: str) -> None:
    await ensure_topics(kafka, partitions=6)
    conn = await asyncpg.connect(database_url)
    await init_connection(conn)
    env = {
        "DATABASE_URL": database_url, "KAFKA_BOOTSTRAP_SERVERS": kafka, "LOG_JSON": "true", "SMS_PROVIDER": "twilio",
        "TWILIO_BASE_URL": server_url, "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": "token",
        "SMS_RATE_LIMIT": "1000000", "TRANSMIT_CONCURRENCY": str(CONCURRENCY),
    }  # fmt: skip
    services = ServiceProcesses(env, write=lambda line: None, names=("transmitter",))
    broker = KafkaBroker(kafka)
    try:
        sending_id, ids = await seed(conn, count)
        services.start("transmitter")

        async def ready() -> bool:
            return bool(
                await conn.fetchval("SELECT bool_or(ready) FROM service_heartbeats WHERE service = 'transmitter'")
            )

        await eventually(ready, 90, "the transmitter ready")
        raw = await raw_rate(f"{server_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json", min(count, 10_000))
        await broker.start()
        started = time.monotonic()
        cpu_before = cpu.snapshot()
        batches = [ids[i : i + 1000] for i in range(0, len(ids), 1000)]
        events = [DispatchesPrepared(sending_id=sending_id, dispatch_ids=b) for b in batches]
        await publish_events(broker, events)

        async def transmitted() -> bool:
            return bool(await conn.fetchval("SELECT status = 'transmitted' FROM sendings WHERE id = $1", sending_id))

        await eventually(transmitted, 600, "the sending transmitted", interval=0.05)
        seconds = time.monotonic() - started
        cpu_spent = cpu.spent(cpu_before, cpu.snapshot())
        sent = await conn.fetchval(
            "SELECT count(*) FROM dispatches WHERE sending_id = $1 AND transmission_status = 'transmitted'", sending_id
        )
    finally:
        services.stop_all()
        await broker.stop()
        await conn.close()
    rate = sent / seconds
    print(
        f"transmitter: {sent:,} sms to a Twilio-compatible server (1 ms answers) in {seconds:.1f} s = {rate:,.0f} "
        f"dispatches/s; raw aiohttp to the same server, {CONCURRENCY} in flight: {raw:,.0f} requests/s "
        f"(transmitter at {rate / raw:.0%} of raw; target 50%)"
    )
    print(cpu.report(cpu_spent, sent, seconds))


@contextlib.asynccontextmanager
async def infrastructure(folder: Path) -> AsyncIterator[tuple[str, str, str]]:
    """A fresh migrated database (on DATABASE_URL, else an embedded PostgreSQL), the broker
    (KAFKA_BOOTSTRAP_SERVERS, else Tansu) and the Twilio-compatible server: their three URLs, stopped after."""
    server = kafka_server = None
    url = os.environ.get("DATABASE_URL")
    kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    port = free_port()
    twilio = subprocess.Popen([sys.executable, "-m", "tests.bench.twilio_server", str(port)])  # noqa: ASYNC220
    try:
        wait_for_port(port, 30, twilio)
        if not url:
            server = EmbeddedPostgres(folder / "pg").start()
            url = server.url
        if not kafka:
            kafka_server = TansuBroker(log_file=folder / "tansu.log").start()
            kafka = kafka_server.bootstrap_servers
        await create_template_database(url)
        database = await create_test_database(url)
        await migrate(database)
        yield database, kafka, f"http://127.0.0.1:{port}"
    finally:
        twilio.terminate()
        twilio.wait(10)
        if kafka_server:
            kafka_server.stop()
        if server:
            server.stop()


async def main() -> None:
    count = int(os.environ.get("BENCH_DISPATCHES", "20000"))
    with tempfile.TemporaryDirectory() as folder:
        async with infrastructure(Path(folder)) as (database, kafka, server_url):
            await run(database, kafka, count, server_url)


if __name__ == "__main__":
    asyncio.run(main())
