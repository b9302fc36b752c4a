"""`make up`: the whole stack on this machine, in the foreground, until Ctrl-C or SIGTERM.

Starts the embedded PostgreSQL (durable) unless DATABASE_URL is set and the Tansu broker unless
KAFKA_BOOTSTRAP_SERVERS is set (their files under .local/), migrates, starts the five services with
their logs prefixed by name, starts again any service that exits (as Kubernetes would), and stops everything
it started on the way out.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
import urllib.request
from pathlib import Path
from types import FrameType

from devstack.infra import EmbeddedPostgres, TansuBroker
from devstack.services import ServiceProcesses, service_env
from shared.db import migrate

LOCAL_DIR = Path(os.environ.get("LOCAL_DIR", ".local")).resolve()
READY_TIMEOUT_SECONDS = 120


class Stop(Exception):
    """Raised by the signal handler to unwind and clean up."""


def _on_signal(signum: int, _: FrameType | None) -> None:
    raise Stop(signal.Signals(signum).name)


def local_postgres() -> EmbeddedPostgres:
    """The PostgreSQL server of `make up`: durable (fsync, synchronous commit, full page writes), since it holds
    what the user created and it must never lose an acknowledged write."""
    return EmbeddedPostgres(
        LOCAL_DIR / "pgdata",
        port=int(os.environ.get("LOCAL_PG_PORT", "55432")),
        log_file=LOCAL_DIR / "postgres.log",
        durable=True,
    )


def wait_ready(url: str, services: ServiceProcesses, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if services.exited():
            raise RuntimeError(f"service exited during start-up: {services.exited()}")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own URL
            if response.status == 200:
                return
        time.sleep(0.5)
    raise TimeoutError(f"{url} not ready after {timeout}s")


def main() -> None:
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    LOCAL_DIR.mkdir(parents=True, exist_ok=True)
    api_port = int(os.environ.get("API_PORT", "8000"))
    receipts_port = int(os.environ.get("RECEIPTS_PORT", "8001"))
    postgres: EmbeddedPostgres | None = None
    broker: TansuBroker | None = None
    services: ServiceProcesses | None = None
    try:
        database_url = os.environ.get("DATABASE_URL")
        if not database_url:
            postgres = local_postgres().start()
            database_url = postgres.url
            print(f"stack  | embedded PostgreSQL on {database_url} (log: {postgres.log_file})", flush=True)
        kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        if not kafka:
            broker = TansuBroker(
                port=int(os.environ.get("LOCAL_KAFKA_PORT", "19092")), log_file=LOCAL_DIR / "tansu.log"
            ).start()
            kafka = broker.bootstrap_servers
            print(f"stack  | Tansu broker on {kafka} (memory only)", flush=True)
        applied = asyncio.run(migrate(database_url))
        print(f"stack  | migrations applied: {', '.join(applied) or 'none needed'}", flush=True)
        env = service_env(database_url, kafka, api_port, receipts_port)
        # A person watching a terminal reads console lines better than JSON.
        env.setdefault("LOG_JSON", os.environ.get("LOG_JSON", "false" if sys.stdout.isatty() else "true"))
        services = ServiceProcesses(env)
        services.start_all()
        wait_ready(f"http://127.0.0.1:{api_port}/readyz/pipeline", services, READY_TIMEOUT_SECONDS)
        print(
            f"stack  | ready. API: http://127.0.0.1:{api_port}  docs: http://127.0.0.1:{api_port}/docs  "
            f"receipts: http://127.0.0.1:{receipts_port}  (Ctrl-C stops everything)",
            flush=True,
        )
        while True:  # a service that exits is started again, as Kubernetes would
            services.supervise()
            time.sleep(0.2)
    except Stop as stop:
        print(f"stack  | {stop}: stopping", flush=True)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if services is not None:
            services.stop_all()
        if broker is not None:
            broker.stop()
        if postgres is not None:
            postgres.stop()
        print("stack  | stopped", flush=True)


if __name__ == "__main__":
    main()
