"""`make up`: the whole stack on this machine, in the foreground, until Ctrl-C or SIGTERM.

Starts the embedded PostgreSQL (durable) unless DATABASE_URL is set and the Tansu broker unless
KAFKA_BOOTSTRAP_SERVERS is set (their files under .local/), migrates, starts the five services with
their logs prefixed by name, starts again any service that exits (as Kubernetes would), and stops everything
it started on the way out.

Once the stack is ready it writes `.local/stack.json` (where the database, broker and API are) for
`messaging-admin` to find them, and removes it when the stack stops.

It never damages what it runs on: one stack per checkout (a lock under .local/; a second `make up` refuses with
one line), every port it needs must be free before it starts (else one line naming the variable to set), the
servers it waits for are the ones it started, and when PostgreSQL or the broker dies the stack stops, saying so.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import signal
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO

from devstack.infra import AlreadyRunning, EmbeddedPostgres, TansuBroker
from devstack.processes import port_taken
from devstack.services import ServiceProcesses, service_env
from shared.db import migrate
from shared.local_stack import STATE_FILE_NAME, StackState, local_dir, remove_state, write_state

LOCAL_DIR = local_dir()
READY_TIMEOUT_SECONDS = 120
WORKERS = ("scheduler", "preparer", "transmitter")  # the api and delivery-receipts serve /metrics on their own port


class Stop(Exception):
    """Raised by the signal handler to unwind and clean up."""


class StackError(Exception):
    """Why the stack cannot start or go on, in one line for the person who typed `make up`."""


def hold_checkout_lock(local_dir: Path) -> IO[str]:
    """Hold `.local/stack.pid` (an exclusive lock with this process's pid in it) for the life of the stack."""
    local_dir.mkdir(parents=True, exist_ok=True)
    lock = (local_dir / "stack.pid").open("a+")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        holder = lock.read().strip() or "unknown"
        lock.close()
        raise StackError(f"a stack is already running from this checkout (pid {holder})") from None
    lock.seek(0)
    lock.truncate()
    lock.write(f"{os.getpid()}\n")
    lock.flush()
    return lock


def check_ports_free(ports: list[tuple[str, int]]) -> None:
    """Every port the stack will listen on must be free: never attach to a server someone else runs."""
    for variable, port in ports:
        if port_taken(port):
            raise StackError(f"port {port} is taken by another process: set {variable} to a free port")


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


@dataclass
class Stack:
    """What `make up` started: the servers (unless their URLs were given) and the services."""

    postgres: EmbeddedPostgres | None = None
    broker: TansuBroker | None = None
    services: ServiceProcesses | None = None

    def start_servers(self, ports: list[tuple[str, int]]) -> tuple[str, str]:
        """PostgreSQL and the broker, started unless given; returns their URLs once they are ready."""
        database_url = os.environ.get("DATABASE_URL", "")
        kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "")
        if not database_url:
            self.postgres = local_postgres()
            ports.append(("LOCAL_PG_PORT", self.postgres.port))
        if not kafka:
            port = int(os.environ.get("LOCAL_KAFKA_PORT", "19092"))
            self.broker = TansuBroker(port=port, log_file=LOCAL_DIR / "tansu.log")
            ports.append(("LOCAL_KAFKA_PORT", port))
        check_ports_free(ports)
        if self.postgres is not None:
            database_url = self.postgres.start().url
            print(f"stack  | embedded PostgreSQL on {database_url} (log: {self.postgres.log_file})", flush=True)
        if self.broker is not None:
            kafka = self.broker.start().bootstrap_servers
            print(f"stack  | Tansu broker on {kafka} (memory only)", flush=True)
        return database_url, kafka

    def supervise(self) -> None:
        """Start again a service that exited, as Kubernetes would; PostgreSQL and the broker must live as long as
        the stack: when one dies, the stack stops, saying so."""
        if self.services is not None:
            self.services.supervise()
        for name, server in (("PostgreSQL", self.postgres), ("the broker", self.broker)):
            process = server.process if server is not None else None
            if server is not None and process is not None and process.poll() is not None:
                raise StackError(
                    f"{name} exited with code {process.returncode}: stopping the stack (log: {server.log_file})"
                )

    def started(self) -> bool:
        servers = (self.postgres, self.broker)
        return self.services is not None or any(s is not None and s.process is not None for s in servers)

    def stop(self) -> None:
        if self.services is not None:
            self.services.stop_all()
        if self.broker is not None:
            self.broker.stop()
        if self.postgres is not None:
            self.postgres.stop()


def say_ready(api_port: int, receipts_port: int, worker_ports: dict[str, int]) -> None:
    metrics = {"api": api_port, "delivery-receipts": receipts_port, **worker_ports}
    urls = "  ".join(f"{name} http://127.0.0.1:{port}/metrics" for name, port in metrics.items())
    print(
        f"stack  | ready. API: http://127.0.0.1:{api_port}  docs: http://127.0.0.1:{api_port}/docs  "
        f"receipts: http://127.0.0.1:{receipts_port}  (Ctrl-C stops everything)\n"
        f"stack  | metrics: {urls}",
        flush=True,
    )


# Long: the stack's start in order, then its stop in reverse; one function keeps the two in step
def main() -> None:
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    api_port = int(os.environ.get("API_PORT", "8000"))
    receipts_port = int(os.environ.get("RECEIPTS_PORT", "8001"))
    # Each worker's probes and /metrics: LOCAL_METRICS_PORT (default 9101) for the scheduler, then one up each.
    metrics_base = int(os.environ.get("LOCAL_METRICS_PORT", "9101"))
    worker_ports = {name: metrics_base + i for i, name in enumerate(WORKERS)}
    ports = [("API_PORT", api_port), ("RECEIPTS_PORT", receipts_port)]
    ports += [("LOCAL_METRICS_PORT (the first of three)", port) for port in worker_ports.values()]
    stack = Stack()
    state_file = LOCAL_DIR / STATE_FILE_NAME
    lock: IO[str] | None = None
    failed = False
    try:
        lock = hold_checkout_lock(LOCAL_DIR)
        remove_state(state_file)  # left by a stack that was killed: this one is not ready yet
        database_url, kafka = stack.start_servers(ports)
        applied = asyncio.run(migrate(database_url))
        print(f"stack  | migrations applied: {', '.join(applied) or 'none needed'}", flush=True)
        env = service_env(database_url, kafka, api_port, receipts_port)
        # A person watching a terminal reads console lines better than JSON.
        env.setdefault("LOG_JSON", os.environ.get("LOG_JSON", "false" if sys.stdout.isatty() else "true"))
        by_service = {name: {"HEALTH_PORT": str(port)} for name, port in worker_ports.items()}
        stack.services = ServiceProcesses(env, env_by_service=by_service)
        stack.services.start_all()
        wait_ready(f"http://127.0.0.1:{api_port}/readyz/pipeline", stack.services, READY_TIMEOUT_SECONDS)
        api_url, receipts_url = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{receipts_port}"
        write_state(state_file, StackState(pid=os.getpid(), database_url=database_url, kafka_bootstrap_servers=kafka,
                                           api_url=api_url, receipts_url=receipts_url))  # fmt: skip
        say_ready(api_port, receipts_port, worker_ports)
        while True:
            stack.supervise()
            time.sleep(0.2)
    except Stop as stop:
        print(f"stack  | {stop}: stopping", flush=True)
    except (StackError, AlreadyRunning) as error:
        print(f"stack  | {error}", flush=True)
        failed = True
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if lock is not None:  # only the stack holding the lock wrote the file; first, so no tool finds a stopping stack
            remove_state(state_file)
        if stack.started():
            stack.stop()
            print("stack  | stopped", flush=True)
        if lock is not None:
            lock.close()
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
