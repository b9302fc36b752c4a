"""Graceful operation: a transmitter stopped with SIGTERM in the middle of a 20 000-dispatch sending exits
within its grace period, and, once started again, completes the sending with nothing lost or sent twice;
services started before PostgreSQL and the broker wait for them, then work; the api finishes the request in
flight before it exits."""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from pathlib import Path

import aiohttp
import asyncpg
from tests.e2e.providers import TwilioServer, announce, running_services, wait_transmitted
from tests.e2e.sendings import RECIPIENTS, SMS_MESSAGE, prepared_sms_sending
from tests.infra import eventually
from tests.seed import create_lc_row

from api.admin.tenants import create_client, create_lc
from api.permits import ALL_PERMITS
from devstack.infra import EmbeddedPostgres, TansuBroker
from devstack.processes import free_port
from devstack.services import ServiceProcesses
from shared.db import init_connection, migrate

DISPATCHES = 20_000
GRACE_SECONDS = 30  # the transmitter's termination grace period in deploy/k8s is 90 s; this asks for less


async def test_sigterm_mid_sending_exits_in_time_and_the_restart_completes_it_exactly_once(
    database_url: str, db: asyncpg.Pool, twilio_broker: str, twilio_server: TwilioServer, tmp_path: Path
) -> None:
    extra = {"SMS_RATE_LIMIT": "4000", "TRANSMIT_CONCURRENCY": "100"}
    log = tmp_path / "services.log"
    async with running_services(database_url, twilio_broker, twilio_server, db, log, **extra) as running:
        sending_id, ids = await prepared_sms_sending(db, DISPATCHES)
        await announce(twilio_broker, sending_id, ids)
        await eventually(lambda: _accepted_at_least(twilio_server, 3_000), 60, "3 000 sms accepted")
        processes = running.processes
        stopping = time.monotonic()
        # In a thread: this test's own event loop serves the provider the transmitter is still talking to.
        code = await asyncio.to_thread(processes.stop, "transmitter", signal.SIGTERM, GRACE_SECONDS)
        took = time.monotonic() - stopping
        assert code == 0, f"the transmitter exited with {code}"
        assert took < GRACE_SECONDS
        sent_at_stop = len(twilio_server.requests)
        assert sent_at_stop < DISPATCHES, "stopped in the middle"
        processes.start("transmitter")

        await wait_transmitted(db, sending_id, 180, f"the sending completed after the restart (log: {log})")
    accepted = Counter(r["To"] for r in twilio_server.requests)
    assert len(accepted) == DISPATCHES, "nothing lost"
    assert set(accepted.values()) == {1}, "nothing sent twice"
    statuses = await db.fetch(
        "SELECT transmission_status, error, count(*) FROM dispatches WHERE sending_id = $1 GROUP BY 1, 2", sending_id
    )
    assert [(r["transmission_status"], r["error"], r["count"]) for r in statuses] == [("transmitted", None, DISPATCHES)]


async def _accepted_at_least(server: TwilioServer, count: int) -> bool:
    return len(server.requests) >= count


# Long: one story told end to end through the real processes; split, each part would need the whole stack again
async def test_workers_started_before_postgres_and_the_broker_wait_for_them_then_work(tmp_path: Path) -> None:
    # Embedded servers whatever TEST_INFRA says: they must come up on ports the services were given before.
    pg_port, kafka_port = free_port(), free_port()
    postgres = EmbeddedPostgres(tmp_path / "pg", port=pg_port, log_file=tmp_path / "pg.log").start()
    database_url = postgres.url
    try:
        await migrate(database_url)
    finally:
        postgres.stop()  # the database exists, migrated, but is down when the services start
    log_path = tmp_path / "services.log"
    broker: TansuBroker | None = None
    with log_path.open("a", buffering=1) as log:
        env = {"DATABASE_URL": database_url, "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{kafka_port}", "LOG_JSON": "true",
               "SCHEDULER_POLL_SECONDS": "0.5", "SANDBOX_RECEIPT_DELAY_SECONDS": "3600"}  # fmt: skip
        workers = ServiceProcesses(env, write=log.write, names=("scheduler", "preparer", "transmitter"))
        try:
            workers.start_all()

            async def all_waiting() -> bool:
                assert not workers.exited(), f"a service gave up: {workers.exited()} (log: {log_path})"
                waiting = [line for line in log_path.read_text().splitlines() if "dependency_not_ready" in line]
                return all(
                    any(line.startswith(name) for line in waiting) for name in ("scheduler", "preparer", "transmitter")
                )

            await eventually(all_waiting, 60, "every worker waiting for its dependencies")
            broker = TansuBroker(port=kafka_port, log_file=tmp_path / "tansu.log").start()
            postgres = EmbeddedPostgres(tmp_path / "pg", port=pg_port, log_file=tmp_path / "pg.log").start()
            assert not workers.exited(), "nobody crashed while waiting"
            conn = await asyncpg.connect(database_url)
            try:
                await init_connection(conn)

                async def ready() -> bool:
                    rows = await conn.fetch("SELECT DISTINCT service FROM service_heartbeats WHERE ready")
                    return {r["service"] for r in rows} == {"scheduler", "preparer", "transmitter"}

                await eventually(ready, 90, f"the workers ready once their dependencies came (log: {log_path})")
                async with conn.transaction():
                    sending_id = await _scheduled_inline_sms_sending(conn)

                async def transmitted() -> bool:
                    return bool(await conn.fetchval("SELECT status = 'transmitted' FROM sendings WHERE id = $1",
                                                    sending_id))  # fmt: skip

                await eventually(transmitted, 60, "a sending scheduled, prepared and transmitted")
            finally:
                await conn.close()
        finally:
            workers.stop_all()
            if broker is not None:
                broker.stop()
            postgres.stop()


async def _scheduled_inline_sms_sending(conn: asyncpg.Connection) -> int:
    lc_id = await create_lc_row(conn, "late")
    template_id = await conn.fetchval(
        "INSERT INTO templates (loyalty_club_id, type, content) VALUES ($1, 'plain', $2) RETURNING id",
        lc_id,
        {"body": "Hei {{ name }}"},
    )
    message_id = await conn.fetchval(
        "INSERT INTO messages (loyalty_club_id, service, name) VALUES ($1, 'generic', 'L') RETURNING id", lc_id
    )
    await conn.execute(
        "INSERT INTO channels (message_id, position, type, sender, template_id) VALUES ($1, 0, 'sms', $2, $3)",
        message_id, {"type": "alphanumeric", "value": "Shop"}, template_id,
    )  # fmt: skip
    sending_id: int = await conn.fetchval(
        "INSERT INTO sendings (loyalty_club_id, message_id, status, scheduled_at, recipients_count) "
        "VALUES ($1, $2, 'scheduled', now(), 2) RETURNING id",
        lc_id,
        message_id,
    )
    await conn.executemany(
        "INSERT INTO sending_recipients (sending_id, position, msisdn, properties) VALUES ($1, $2, $3, $4)",
        [(sending_id, 0, "4740769126", {"name": "Piotr"}), (sending_id, 1, "4790000001", {"name": "Kari"})],
    )
    return sending_id


async def test_the_api_finishes_a_request_in_flight_on_sigterm_then_exits(
    database_url: str, db: asyncpg.Pool, e2e_broker: str, tmp_path: Path
) -> None:
    await create_lc(database_url, "drain", "Drain")
    token = await create_client(database_url, ["drain"], "drain client", list(ALL_PERMITS))
    headers = {"X-Loyalty-Club-Slug": "drain", "X-Client-Authorization": token, "X-User-Agent": "tests",
               "X-Product-Name": "messaging-tests"}  # fmt: skip
    port = free_port()
    env = {"DATABASE_URL": database_url, "KAFKA_BOOTSTRAP_SERVERS": e2e_broker, "API_PORT": str(port),
           "LOG_JSON": "true", "CONSUME_MEMBER_EVENTS": "false"}  # fmt: skip
    log_path = tmp_path / "api.log"
    body = {"message": {**SMS_MESSAGE, "sending": {"schedule": {"type": "immediate"}, "recipients": RECIPIENTS}}}
    with log_path.open("a", buffering=1) as log:
        processes = ServiceProcesses(env, write=log.write, names=("api",))
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:
            try:
                processes.start_all()

                async def ready() -> bool:
                    assert not processes.exited(), f"the api exited: see {log_path}"
                    try:
                        async with http.get("/readyz") as response:
                            return response.status == 200
                    except aiohttp.ClientConnectionError:
                        return False

                await eventually(ready, 60, "the api is ready", interval=0.2)
                async with db.acquire() as conn, conn.transaction():
                    # The request will wait for this lock: in flight, and visibly so, when SIGTERM comes.
                    await conn.execute("LOCK TABLE messages IN ACCESS EXCLUSIVE MODE")
                    request = asyncio.create_task(http.post("/v1/messages/generic", headers=headers, json=body))
                    await eventually(lambda: _waiting_on_a_lock(db), 30, "the request waits on the lock")
                    stopping = asyncio.create_task(asyncio.to_thread(processes.stop, "api", signal.SIGTERM, 25))
                    await eventually(lambda: _logged(log_path, "Shutting down"), 30, "the api is shutting down")
                    assert not stopping.done(), "the api waits for the request in flight"
                response = await request  # the lock is gone: the request completes
                assert response.status == 201, await response.text()
                sending_id = (await response.json())["message"]["latest_sending"]["id"]
                # uvicorn re-raises the SIGTERM it caught once its graceful shutdown is complete.
                assert await stopping in (0, -signal.SIGTERM), f"the api exited badly: see {log_path}"
                assert await _logged(log_path, "Application shutdown complete")
            finally:
                processes.stop_all()
    assert await db.fetchval("SELECT count(*) FROM sendings WHERE id = $1", sending_id) == 1


async def _waiting_on_a_lock(db: asyncpg.Pool) -> bool:
    waiting: int = await db.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    return waiting > 0


async def _logged(path: Path, text: str) -> bool:
    return text in await asyncio.to_thread(path.read_text)
