"""The whole stack for the fault tier: its own durable PostgreSQL server and broker (so a test may kill them; always
the embedded ones, whatever TEST_INFRA says, as SIGSTOP, SIGKILL and `pg_ctl stop -m immediate` need their process), the
five services as real processes started again when they exit (as Kubernetes does), and the realistic Twilio
provider. The verdict is read from Postgres (a trigger notes every status that goes backwards) and from the
provider's own log."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import orjson
from tests.faults.provider import ACCOUNT_SID, AUTH_TOKEN, TwilioProvider
from tests.faults.verdict import WATCH_DISPATCHES, Verdict
from tests.infra import eventually
from tests.seed import seed_members

from api.admin.tenants import create_client, create_lc
from api.permits import ALL_PERMITS
from devstack.infra import EmbeddedPostgres, TansuBroker
from devstack.processes import free_port, pause, resume
from devstack.services import ServiceProcesses, service_env
from shared.db import init_connection, migrate
from shared.outages import retry_through_outages

READY_SECONDS = 120
EVERYONE = [{"condition_group": "member_properties", "field": "points", "operator": "gte", "value": 0}]

# Short leases and loops, so a fault test's recovery takes seconds, not minutes.
FAULT_SETTINGS = {
    "LOG_JSON": "true", "SCHEDULER_POLL_SECONDS": "0.5", "REDRIVE_INTERVAL_SECONDS": "1", "STAGE_LEASE_SECONDS": "5",
    "CLAIM_LEASE_SECONDS": "10", "BROKER_CHECK_SECONDS": "1", "BROKER_RECOVERY_SECONDS": "20",
    "TOPIC_PARTITIONS": "6", "SMS_RATE_LIMIT": "100", "PROVIDER_TIMEOUT_SECONDS": "3", "RATE_LIMIT_PER_SECOND": "500",
    "RATE_LIMIT_BURST": "500",
}  # fmt: skip


@dataclass
class FaultStack:
    postgres: EmbeddedPostgres
    broker: TansuBroker
    services: ServiceProcesses
    provider: TwilioProvider
    pool: asyncpg.Pool
    http: aiohttp.ClientSession
    api_url: str
    headers: dict[str, str]
    log_path: Path
    lc_id: int
    events: list[str] = field(default_factory=list)  # what the test did, when (printed on failure)

    def note(self, what: str) -> None:
        line = f"{time.strftime('%H:%M:%S')} {what}"
        self.events.append(line)
        print(line, flush=True)

    async def query(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        """A read that waits out an outage of the server (a test may have stopped it)."""
        return await retry_through_outages("test query", lambda: self.pool.fetch(sql, *args), max_delay=1)

    async def seed(self, members: int) -> None:
        async with self.pool.acquire() as conn:
            await seed_members(conn, self.lc_id, members)

    async def post(self, path: str, body: dict[str, Any], key: str | None = None) -> tuple[int, Any]:
        headers = {**self.headers, **({"Idempotency-Key": key} if key else {})}
        async with self.http.post(self.api_url + path, data=orjson.dumps(body), headers=headers) as response:
            return response.status, await response.json(content_type=None)

    async def get(self, path: str) -> Any:
        async with self.http.get(self.api_url + path, headers=self.headers) as response:
            assert response.status == 200, await response.text()
            return await response.json()

    async def audience_sending(self, name: str = "Faults", conditions: list[dict[str, Any]] = EVERYONE) -> int:
        """An immediate sms sending to an audience of the seeded members; returns its id."""
        template = {"type": "inline", "definition": {"type": "plain", "content": {"body": "Hei {{ first_name }}"}}}
        message = {"name": name, "marketing": False, "shorten_urls": False,
                   "channels": [{"type": "sms", "template": template}],
                   "sending": {"schedule": {"type": "immediate"},
                               "audience": {"type": "inline", "conditions": conditions}}}  # fmt: skip
        status, body = await self.post("/v1/messages/generic", {"message": message})
        assert status == 201, body
        sending_id: int = body["message"]["latest_sending"]["id"]
        self.note(f"sending {sending_id} posted")
        return sending_id

    async def status(self, sending_id: int) -> str:
        rows = await self.query("SELECT status FROM sendings WHERE id = $1", sending_id)
        return str(rows[0]["status"])

    async def counts(self, sending_id: int) -> Counter[str]:
        rows = await self.query(
            "SELECT transmission_status, count(*) AS n FROM dispatches WHERE sending_id = $1 GROUP BY 1", sending_id
        )
        return Counter({r["transmission_status"]: r["n"] for r in rows})

    async def wait_transmitted(self, sending_id: int, within: float) -> float:
        """Wait until the sending is `transmitted`; returns when (loop time)."""

        async def done() -> bool:
            status = await self.status(sending_id)
            assert status not in ("failed", "cancelled", "skipped"), f"sending {sending_id} ended {status}"
            return status == "transmitted"

        await eventually(done, within, f"sending {sending_id} transmitted (log: {self.log_path})", 0.2)
        self.note(f"sending {sending_id} transmitted")
        return asyncio.get_running_loop().time()

    async def wait_sent(self, count: int, within: float) -> None:
        async def sent() -> bool:
            return len(self.provider.taken) >= count

        await eventually(sent, within, f"{count} messages taken by the provider", 0.05)

    async def wait_pipeline_ready(self, within: float) -> float:
        """Wait for `/readyz/pipeline` to answer 200; returns how long it took."""
        started = time.monotonic()

        async def ready() -> bool:
            try:
                async with self.http.get(f"{self.api_url}/readyz/pipeline") as response:
                    return response.status == 200
            except aiohttp.ClientError:
                return False

        await eventually(ready, within, f"/readyz/pipeline 200 (log: {self.log_path})", 0.2)
        return time.monotonic() - started

    def kill(self, service: str) -> None:
        """SIGKILL, as Kubernetes kills a pod; the supervisor starts it again."""
        self.note(f"SIGKILL {service}")
        self.services.kill(service)

    def pause(self, what: str) -> None:
        self.note(f"SIGSTOP {what}")
        pause(self.postgres.process if what == "postgres" else self.broker.process)

    def resume(self, what: str) -> None:
        self.note(f"SIGCONT {what}")
        resume(self.postgres.process if what == "postgres" else self.broker.process)

    async def wait_receipts_settled(self, sending_id: int, within: float) -> None:
        """Wait until the provider's callbacks are done and every final one it had acknowledged is applied."""
        await eventually(self.provider.callbacks_done, within, "the provider's callbacks all posted", 0.2)

        async def applied() -> bool:
            verdict = await self.verdict(sending_id)
            return not verdict.untrue

        with contextlib.suppress(AssertionError):
            await eventually(applied, within, "every acknowledged receipt applied", 0.5)

    async def verdict(self, sending_id: int) -> Verdict:
        rows = await self.query(
            "SELECT id, transmission_status, error, provider_message_id, delivery_status FROM dispatches "
            "WHERE sending_id = $1",
            sending_id,
        )
        by_id = {r["id"]: r for r in rows}
        taken = Counter(self.provider.dispatches_taken())
        untrue: list[tuple[int, str]] = []
        acknowledged = 0
        for message in self.provider.taken.values():
            row = by_id.get(message.dispatch_id)
            if row is None:
                continue  # another sending's
            if row["transmission_status"] != "transmitted" or row["provider_message_id"] != message.sid:
                untrue.append((message.dispatch_id, f"taken as {message.sid}, but {dict(row)}"))
                continue
            if message.final in message.acknowledged:
                acknowledged += 1
                expected = "delivered" if message.final == "delivered" else "failed"
                if row["delivery_status"] != expected:
                    untrue.append((message.dispatch_id, f"acknowledged {message.final}, but {row['delivery_status']}"))
        regressions = await self.query("SELECT dispatch_id, change FROM fault_regressions")
        ambiguous = await self.query(
            "SELECT count(DISTINCT dispatch_id) AS n FROM fault_ambiguous WHERE dispatch_id = ANY($1)", list(by_id)
        )
        sending = await self.get(f"/v1/messages/generic/sendings/{sending_id}")
        return Verdict(
            dispatches=len(rows),
            double_sent=[d for d, n in taken.items() if n > 1 and d in by_id],
            lost=[r["id"] for r in rows if r["transmission_status"] == "scheduled"],
            untrue=untrue,
            phantom=[r["id"] for r in rows if r["transmission_status"] == "transmitted" and r["id"] not in taken],
            regressions=[(r["dispatch_id"], r["change"]) for r in regressions if r["dispatch_id"] in by_id],
            ambiguous_ever=int(ambiguous[0]["n"]),
            failed=Counter(str(r["error"]).split(":")[0] for r in rows if r["transmission_status"] == "failed"),
            receipts_acknowledged=acknowledged,
            ledger=sending["sending"]["stats"],
        )


async def _supervise(services: ServiceProcesses) -> None:
    while True:
        services.supervise()
        await asyncio.sleep(0.2)


# Long: the fault stack's start and its cleanup in one place, so a failed start still stops everything
@contextlib.asynccontextmanager
async def fault_stack(
    pgdata_template: Path, folder: Path, provider: TwilioProvider, **settings: str
) -> AsyncIterator[FaultStack]:
    """Start everything (PostgreSQL from an initialised template, the broker, the five services); stop it all
    afterwards, also when the test failed."""
    shutil.copytree(pgdata_template, folder / "pg")
    postgres = EmbeddedPostgres(folder / "pg", log_file=folder / "postgres.log", durable=True).start()
    broker = TansuBroker(log_file=folder / "tansu.log").start()
    services: ServiceProcesses | None = None
    stack: FaultStack | None = None
    supervisor: asyncio.Task[None] | None = None
    pool: asyncpg.Pool | None = None
    http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
    log_path = folder / "services.log"
    log = log_path.open("a", buffering=1)
    try:
        await migrate(postgres.url)
        pool = await asyncpg.create_pool(postgres.url, min_size=1, max_size=4, init=init_connection)
        assert pool is not None
        await pool.execute(WATCH_DISPATCHES)
        lc_id = await create_lc(postgres.url, "faults", "Faults club")
        token = await create_client(postgres.url, ["faults"], "faults", list(ALL_PERMITS))
        api_port, receipts_port = free_port(), free_port()
        env = {
            **service_env(postgres.url, broker.bootstrap_servers, api_port, receipts_port), **FAULT_SETTINGS,
            "SMS_PROVIDER": "twilio", "TWILIO_BASE_URL": provider.url, "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "RECEIPTS_PUBLIC_URL": f"http://127.0.0.1:{receipts_port}", **settings,
        }  # fmt: skip
        services = ServiceProcesses(env, write=log.write)
        services.start_all()
        supervisor = asyncio.create_task(_supervise(services))
        headers = {"X-User-Agent": "faults", "X-Product-Name": "faults", "X-Loyalty-Club-Slug": "faults",
                   "X-Client-Authorization": token, "Content-Type": "application/json"}  # fmt: skip
        stack = FaultStack(postgres, broker, services, provider, pool, http, f"http://127.0.0.1:{api_port}",
                           headers, log_path, lc_id)  # fmt: skip
        await stack.wait_pipeline_ready(READY_SECONDS)
        yield stack
    finally:
        if supervisor is not None:
            supervisor.cancel()
        resume(postgres.process)  # a test that failed while they were paused
        resume(broker.process)
        if services is not None:
            services.stop_all()
        await http.close()
        if pool is not None:
            await pool.close()
        broker.stop()
        if stack is not None and stack.broker is not broker:  # the test started another one
            stack.broker.stop()
        postgres.stop()
        log.close()


def initialised_pgdata(folder: Path) -> Path:
    """A PostgreSQL data directory initialised once, copied by every fault test (initdb takes seconds)."""
    server = EmbeddedPostgres(folder / "pgdata", durable=True).start()
    server.stop()
    return folder / "pgdata"


def kill_signal() -> int:
    return int(os.environ.get("FAULTS_SIGNAL", signal.SIGKILL))
