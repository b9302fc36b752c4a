"""Benchmark: latency of the API's POST that creates a message with its sending, scheduled a day ahead (so no
preparation competes with the API; only the api service runs), under an open-loop load: a request is started
every 1/BENCH_RATE s (default 200 per second) whether the earlier ones have answered or not, for BENCH_SECONDS
(default 20) after a 2 s warm-up, one aiohttp session, each request timed from its scheduled start to its answer.

Prints p50, p90, p99 and max latency in ms, the achieved rate (answers per second over the measured stretch), the
count of non-2xx answers (failed connections and timeouts among them), how late the client started requests at
worst, and the CPU spent per request. Uses DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS when set, else embedded servers
of its own.
"""

from __future__ import annotations

import asyncio
import math
import os
import sys
import tempfile
from collections import Counter, deque
from pathlib import Path
from typing import NamedTuple

import aiohttp
import orjson
from tests.bench import cpu
from tests.bench.end_to_end import EVERYONE, message
from tests.bench.transmit_twilio import infrastructure
from tests.infra import eventually

from api.admin.tenants import create_client, create_lc
from api.permits import ALL_PERMITS
from devstack.processes import free_port
from devstack.services import ServiceProcesses, service_env

WARM_UP_SECONDS = 2.0
REQUEST_TIMEOUT = 30.0  # a request not answered by then counts as non-2xx
MAX_CONNECTIONS = 1000  # high enough that the pool never holds a request back at the rates meant here
LOG_LINES = 200  # the api's last lines of output, shown when the benchmark fails or gets non-2xx answers


class Sample(NamedTuple):
    latency: float  # seconds from the scheduled start to the whole answer read
    status: int  # 0 when no answer came (connection failed, timed out)
    lag: float  # seconds the request was actually started after its scheduled start
    answered_at: float  # loop time
    detail: str = ""  # for a non-2xx answer: the start of its body, or the error


def scheduled_message() -> dict[str, object]:
    """A message with one sms channel and its sending, scheduled a day ahead, to an inline audience."""
    return message(EVERYONE, {"type": "relative", "in": "1 day"})


async def timed(http: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str], at: float) -> Sample:
    """One POST, started now for its scheduled start `at`."""
    loop = asyncio.get_running_loop()
    lag = loop.time() - at
    detail = ""
    try:
        async with http.post(url, data=body, headers=headers) as response:
            answer = await response.read()
            status = response.status
            if not 200 <= status < 300:
                detail = answer[:300].decode(errors="replace")
    except (aiohttp.ClientError, TimeoutError) as exc:
        status, detail = 0, repr(exc)
    answered_at = loop.time()
    return Sample(answered_at - at, status, lag, answered_at, detail)


async def open_loop(
    http: aiohttp.ClientSession, url: str, headers: dict[str, str], rate: float, count: int
) -> tuple[float, list[Sample]]:
    """`count` POSTs, the i-th started at start + i/rate, never waiting for answers; returns the start and the
    samples in order (requests still unanswered REQUEST_TIMEOUT after the last start count as status 0)."""
    loop = asyncio.get_running_loop()
    body = orjson.dumps(scheduled_message())
    start = loop.time() + 0.05
    tasks: list[asyncio.Task[Sample]] = []
    for i in range(count):
        at = start + i / rate
        delay = at - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(timed(http, url, body, headers, at)))
    _, pending = await asyncio.wait(tasks, timeout=REQUEST_TIMEOUT + 5)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    unanswered = Sample(math.inf, 0, 0.0, loop.time(), f"no answer after {REQUEST_TIMEOUT + 5:g} s")
    return start, [unanswered if t in pending else t.result() for t in tasks]


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest rank: the smallest value with at least q of the values at or below it."""
    return sorted_values[max(0, math.ceil(q * len(sorted_values)) - 1)]


async def ready(http: aiohttp.ClientSession, services: ServiceProcesses, url: str) -> None:
    """Wait (120 s at most) until the api's /readyz answers 200: its pool is open, its consumers have partitions."""

    async def answers() -> bool:
        assert not services.exited(), "the api exited (its last output is on stderr)"
        try:
            async with http.get(url) as response:
                return response.status == 200
        except aiohttp.ClientError:
            return False

    await eventually(answers, 120, "the api ready", interval=0.2)


async def run(database_url: str, kafka: str, rate: float, seconds: float) -> None:
    await create_lc(database_url, "bench", "Bench club")
    token = await create_client(database_url, ["bench"], "bench", list(ALL_PERMITS))
    api_port = free_port()
    env = {
        **service_env(database_url, kafka, api_port, free_port()),
        "LOG_JSON": "true", "LOG_LEVEL": "WARNING",
        "RATE_LIMIT_PER_SECOND": str(rate * 100), "RATE_LIMIT_BURST": str(int(rate * 100)),
    }  # fmt: skip
    headers = {"X-User-Agent": "bench", "X-Product-Name": "bench", "X-Loyalty-Club-Slug": "bench",
               "X-Client-Authorization": token, "Content-Type": "application/json"}  # fmt: skip
    warm_up = round(rate * WARM_UP_SECONDS)
    output: deque[str] = deque(maxlen=LOG_LINES)
    services = ServiceProcesses(env, write=output.append, names=("api",))
    try:
        services.start("api")
        connector = aiohttp.TCPConnector(limit=MAX_CONNECTIONS)
        timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
            await ready(http, services, f"http://127.0.0.1:{api_port}/readyz")
            cpu_before = cpu.snapshot()
            url = f"http://127.0.0.1:{api_port}/v1/messages/generic"
            start, samples = await open_loop(http, url, headers, rate, warm_up + round(rate * seconds))
            cpu_spent = cpu.spent(cpu_before, cpu.snapshot())
    except BaseException:
        sys.stderr.write("".join(output))
        raise
    finally:
        services.stop_all()
    if failures := Counter(f"{s.status}: {s.detail}" for s in samples if not 200 <= s.status < 300):
        sys.stderr.write("".join(output) + "".join(f"{n} x {what}\n" for what, n in failures.most_common(5)))
    report(samples[warm_up:], start + warm_up / rate, rate, cpu_spent, max(s.answered_at for s in samples) - start)


def report(measured: list[Sample], first_at: float, rate: float, cpu_spent: dict[str, float], wall: float) -> None:
    """The figures of the measured requests (warm-up left out); CPU over the whole run, warm-up included."""
    latencies = sorted(s.latency for s in measured)
    answered = [s for s in measured if s.status]
    stretch = max(s.answered_at for s in measured) - first_at
    non_2xx = sum(1 for s in measured if not 200 <= s.status < 300)
    statuses = sorted({s.status for s in measured})
    ms = {name: percentile(latencies, q) * 1000 for name, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99))}
    print(
        f"create message + sending scheduled a day ahead (POST /v1/messages/generic), open loop at {rate:g}/s, "
        f"{len(measured):,} requests after {WARM_UP_SECONDS:g} s of warm-up: latency p50 {ms['p50']:.1f} ms, "
        f"p90 {ms['p90']:.1f} ms, p99 {ms['p99']:.1f} ms, max {latencies[-1] * 1000:.1f} ms; "
        f"achieved {len(answered) / stretch:.1f} answers/s; non-2xx {non_2xx} (statuses seen {statuses}, "
        f"0 = no answer); the client started requests at most {max(s.lag for s in measured) * 1000:.1f} ms late"
    )
    total = round(rate * WARM_UP_SECONDS) + len(measured)
    print(cpu.report(cpu_spent, total, wall).replace("dispatch", "request"))


async def main() -> None:
    rate = float(os.environ.get("BENCH_RATE", "200"))
    seconds = float(os.environ.get("BENCH_SECONDS", "20"))
    with tempfile.TemporaryDirectory() as folder:
        async with infrastructure(Path(folder)) as (database, kafka, _twilio_url):
            await run(database, kafka, rate, seconds)


if __name__ == "__main__":
    asyncio.run(main())
