"""Benchmark: a burst of BENCH_REQUESTS (default 10 000) `sending.requested` events, each a new message with its
sending scheduled a day ahead (so no preparation competes), published at once by another platform service, until
the api has created every one of their sendings. Only the api service runs.

Prints the time from the first publish to the last sending created, requests per second, and the CPU spent per
request (the api consumes them in batches of up to 500, each request in its own transaction). Uses DATABASE_URL /
KAFKA_BOOTSTRAP_SERVERS when set, else embedded servers of its own.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
import uuid
from collections import deque
from pathlib import Path

import aiohttp
import asyncpg
from aiokafka import AIOKafkaProducer
from tests.bench import cpu
from tests.bench.create_sending import ready, scheduled_message
from tests.bench.transmit_twilio import infrastructure
from tests.infra import eventually

from api.admin.tenants import create_lc
from devstack.processes import free_port
from devstack.services import ServiceProcesses, service_env
from shared.events import SendingRequested
from shared.events.topics import ensure_topics


async def publish_burst(kafka: str, count: int) -> None:
    """`count` requests, sent without waiting for each other (the producer batches them), then flushed."""
    message = scheduled_message()["message"]
    assert isinstance(message, dict)
    # Only an HTTP client with Messages:Sendings:WithoutConsentsChecks may say `marketing`; a request may not.
    message = {k: v for k, v in message.items() if k != "marketing"}
    producer = AIOKafkaProducer(bootstrap_servers=kafka, linger_ms=5)
    await producer.start()
    try:
        for _ in range(count):
            request = SendingRequested(
                request_id=str(uuid.uuid4()), requested_by="bench", lc="bench", service="generic", message=message
            )
            await producer.send(request.topic, request.to_bytes(), key=request.key().encode())
        await producer.flush()
    finally:
        await producer.stop()


async def run(database_url: str, kafka: str, count: int) -> None:
    await create_lc(database_url, "bench", "Bench club")
    await ensure_topics(kafka, partitions=int(os.environ.get("TOPIC_PARTITIONS", "3")))
    api_port = free_port()
    env = {**service_env(database_url, kafka, api_port, free_port()), "LOG_JSON": "true", "LOG_LEVEL": "WARNING"}
    output: deque[str] = deque(maxlen=200)
    services = ServiceProcesses(env, write=output.append, names=("api",))
    conn = await asyncpg.connect(database_url)
    try:
        services.start("api")
        async with aiohttp.ClientSession() as http:
            await ready(http, services, f"http://127.0.0.1:{api_port}/readyz")
        cpu_before = cpu.snapshot()
        started = time.monotonic()
        await publish_burst(kafka, count)
        published = time.monotonic() - started

        async def all_created() -> bool:
            assert not services.exited(), "the api exited (its last output is on stderr)"
            return bool(await conn.fetchval("SELECT count(*) FROM sendings WHERE request_id IS NOT NULL") == count)

        await eventually(all_created, 300, f"{count} requested sendings", interval=0.2)
        wall = time.monotonic() - started
        cpu_spent = cpu.spent(cpu_before, cpu.snapshot())
    except BaseException:
        sys.stderr.write("".join(output))
        raise
    finally:
        await conn.close()
        services.stop_all()
    print(
        f"sending.requested: a burst of {count:,} requests (new message + sending each), published in "
        f"{published:.1f} s, every sending created {wall:.1f} s after the first publish = {count / wall:,.0f} "
        "requests/s"
    )
    print(cpu.report(cpu_spent, count, wall).replace("dispatch", "request"))


async def main() -> None:
    count = int(os.environ.get("BENCH_REQUESTS", "10000"))
    with tempfile.TemporaryDirectory() as folder:
        async with infrastructure(Path(folder)) as (database, kafka, _twilio_url):
            await run(database, kafka, count)


if __name__ == "__main__":
    asyncio.run(main())
