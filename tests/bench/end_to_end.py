"""Benchmark: one sending to an audience of 1 000 000 members (BENCH_MEMBERS to change), from the API's POST until
every dispatch is transmitted, through the five real services, to a Twilio-compatible server answering in 1 ms
(rate limits raised), next to raw aiohttp requests per second to the same server, measured in the same run with
the same concurrency (TRANSMIT_CONCURRENCY, default 50).

Prints the time from POST to `transmitted` (and to `prepared`), dispatches per second, the ratio to raw aiohttp,
and the peak memory (VmHWM) of the preparer and the transmitter. Uses DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS
when set, else embedded servers of its own.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import asyncpg
import orjson
from tests.bench import cpu
from tests.bench.prepare_sending import peak_rss_mb
from tests.bench.transmit_twilio import ACCOUNT_SID, CONCURRENCY, infrastructure, raw_rate
from tests.infra import eventually
from tests.seed import SMS_BODY, seed_members

from api.admin.tenants import create_client, create_lc
from api.permits import ALL_PERMITS
from devstack.processes import free_port
from devstack.services import ServiceProcesses, service_env
from shared.db import init_connection

RAW_REQUESTS = 20_000
EVERYONE = [{"condition_group": "member_properties", "field": "points", "operator": "gte", "value": 0}]


def message(conditions: list[dict[str, object]], schedule: dict[str, str] | None = None) -> dict[str, object]:
    """A message with one sms channel and its sending to an inline audience, immediate unless `schedule`."""
    template = {"type": "inline", "definition": {"type": "plain", "content": {"body": SMS_BODY}}}
    return {
        "message": {
            "name": "Bench",
            "marketing": False,
            "shorten_urls": False,
            "channels": [{"type": "sms", "template": template}],
            "sending": {
                "schedule": schedule or {"type": "immediate"},
                "audience": {"type": "inline", "conditions": conditions},
            },
        }
    }


# Long: the benchmark's one run, start to figures, read top to bottom; split, its timings would hide
async def run(database_url: str, kafka: str, members: int, server_url: str, log_path: Path) -> None:
    conn = await asyncpg.connect(database_url)
    await init_connection(conn)
    lc_id = await create_lc(database_url, "bench", "Bench club")
    token = await create_client(database_url, ["bench"], "bench", list(ALL_PERMITS))
    started = time.monotonic()
    await seed_members(conn, lc_id, members)
    print(f"seeded {members:,} members in {time.monotonic() - started:.1f} s", file=sys.stderr)
    api_port, receipts_port = free_port(), free_port()
    env = {
        **service_env(database_url, kafka, api_port, receipts_port),
        "LOG_JSON": "true", "LOG_LEVEL": "WARNING", "SMS_PROVIDER": "twilio", "TWILIO_BASE_URL": server_url,
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": "token", "SMS_RATE_LIMIT": "1000000",
        "TRANSMIT_CONCURRENCY": str(CONCURRENCY), "RATE_LIMIT_PER_SECOND": "1000",
    }  # fmt: skip
    with log_path.open("a", buffering=1) as log:
        services = ServiceProcesses(env, write=log.write)
        try:
            services.start_all()
            async with aiohttp.ClientSession() as http:

                async def ready() -> bool:
                    assert not services.exited(), f"a service exited: see {log_path}"
                    try:
                        async with http.get(f"http://127.0.0.1:{api_port}/readyz/pipeline") as response:
                            return response.status == 200
                    except aiohttp.ClientError:
                        return False

                await eventually(ready, 120, "the stack ready", interval=0.2)
                raw_started = cpu.snapshot()
                raw = await raw_rate(f"{server_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json", RAW_REQUESTS)
                raw_cpu = cpu.spent(raw_started, cpu.snapshot())
                headers = {"X-User-Agent": "bench", "X-Product-Name": "bench", "X-Loyalty-Club-Slug": "bench",
                           "X-Client-Authorization": token, "Content-Type": "application/json"}  # fmt: skip
                started = time.monotonic()
                cpu_before = cpu.snapshot()
                async with http.post(
                    f"http://127.0.0.1:{api_port}/v1/messages/generic",
                    data=orjson.dumps(message(EVERYONE)),
                    headers=headers,
                ) as response:
                    body = await response.json()
                    assert response.status == 201, body
                sending_id = body["message"]["latest_sending"]["id"]
            prepared_after: float | None = None

            async def transmitted() -> bool:
                nonlocal prepared_after
                status = await conn.fetchval("SELECT status FROM sendings WHERE id = $1", sending_id)
                if prepared_after is None and status not in ("scheduled", "preparing"):
                    prepared_after = time.monotonic() - started
                assert status not in ("failed", "cancelled", "skipped"), status
                return bool(status == "transmitted")

            await eventually(transmitted, 1800, "the sending transmitted", interval=0.2)
            seconds = time.monotonic() - started
            cpu_spent = cpu.spent(cpu_before, cpu.snapshot())
            peaks = {name: peak_rss_mb(services.processes[name].pid) for name in ("preparer", "transmitter")}
            counts = await conn.fetchrow(
                "SELECT count(*) FILTER (WHERE transmission_status = 'transmitted') AS sent, count(*) AS dispatches "
                "FROM dispatches WHERE sending_id = $1",
                sending_id,
            )
            assert counts is not None
        finally:
            services.stop_all()
            await conn.close()
    rate = counts["sent"] / seconds
    print(
        f"end to end: a sending to {members:,} members, POST -> {counts['sent']:,} of {counts['dispatches']:,} "
        f"dispatches transmitted to a Twilio-compatible server (1 ms answers) in {seconds:.1f} s "
        f"(prepared after {prepared_after or float('nan'):.1f} s) = {rate:,.0f} dispatches/s; raw aiohttp to the "
        f"same server, {CONCURRENCY} in flight: {raw:,.0f} requests/s (end to end at {rate / raw:.2f}x raw; "
        f"target 0.5x and <= 200 s); peak memory preparer {peaks['preparer']:.0f} MB, "
        f"transmitter {peaks['transmitter']:.0f} MB"
    )
    print(cpu.report(cpu_spent, counts["sent"], seconds))
    print("raw aiohttp, " + cpu.report(raw_cpu, RAW_REQUESTS, RAW_REQUESTS / raw).replace("dispatch", "request"))


async def main() -> None:
    members = int(os.environ.get("BENCH_MEMBERS", "1000000"))
    with tempfile.TemporaryDirectory() as folder:
        async with infrastructure(Path(folder)) as (database, kafka, server_url):
            await run(database, kafka, members, server_url, Path(folder) / "services.log")


if __name__ == "__main__":
    asyncio.run(main())
