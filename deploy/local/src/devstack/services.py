"""The five services as child processes, their output prefixed with their names, started again when they exit
(as Kubernetes does): a service that failed exits with code 1 and counts on it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import IO

# name → python module run with `python -m`
SERVICES = {
    "api": "api",
    "scheduler": "scheduler",
    "preparer": "preparer",
    "transmitter": "transmitter",
    "delivery-receipts": "delivery_receipts",
}


def service_env(database_url: str, kafka: str, api_port: int, receipts_port: int) -> dict[str, str]:
    """The environment every service gets: where the database and broker are, and the two HTTP ports."""
    return {
        "DATABASE_URL": database_url,
        "KAFKA_BOOTSTRAP_SERVERS": kafka,
        "API_PORT": str(api_port),
        "RECEIPTS_PORT": str(receipts_port),
        "SANDBOX_RECEIPTS_URL": f"http://127.0.0.1:{receipts_port}/webhooks/sandbox",
    }


def _pump(name: str, stream: IO[bytes], write: Callable[[str], object]) -> None:
    width = max(len(n) for n in SERVICES)
    with stream:
        for raw in iter(stream.readline, b""):
            write(f"{name:<{width}} | {raw.decode(errors='replace').rstrip()}\n")


@dataclass
class ServiceProcesses:
    """Starts the services with `env` added to the current environment; stops them all, always."""

    env: Mapping[str, str]
    write: Callable[[str], object] = sys.stdout.write
    env_by_service: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # added to one service's env
    names: tuple[str, ...] = tuple(SERVICES)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    pumps: list[threading.Thread] = field(default_factory=list)
    stopped: set[str] = field(default_factory=set)  # stopped on purpose: never started again
    _services: dict[str, tuple[str, int]] = field(default_factory=dict)  # key → (name, replica)
    _restart_at: dict[str, float] = field(default_factory=dict)
    _backoff: dict[str, float] = field(default_factory=dict)
    _started_at: dict[str, float] = field(default_factory=dict)

    def start(self, name: str, replica: int = 0) -> subprocess.Popen[bytes]:
        """Start service `name`; replicas after the first are known as `name-1`, `name-2`, ..."""
        key = f"{name}-{replica}" if replica else name
        self._services[key] = (name, replica)
        self._started_at[key] = time.monotonic()
        self.stopped.discard(key)
        process = subprocess.Popen(
            [sys.executable, "-m", SERVICES[name]],
            env={**os.environ, **self.env, **self.env_by_service.get(name, {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        assert process.stdout is not None
        pump = threading.Thread(target=_pump, args=(key, process.stdout, self.write), daemon=True)
        pump.start()
        self.pumps.append(pump)
        self.processes[key] = process
        return process

    def start_all(self) -> None:
        for name in self.names:
            self.start(name)

    def exited(self) -> dict[str, int]:
        """Services that ended, with their exit codes."""
        return {n: p.returncode for n, p in self.processes.items() if p.poll() is not None}

    def supervise(self) -> list[str]:
        """Start again each service that exited without being stopped, after a pause that doubles while it keeps
        exiting soon after its start (0.5 s up to 10 s); call it every fraction of a second. Returns the ones
        started again."""
        now = time.monotonic()
        started = []
        for key, code in self.exited().items():
            if key in self.stopped:
                continue
            if key not in self._restart_at:
                quick = now - self._started_at.get(key, 0.0) < 30
                delay = min(10.0, self._backoff.get(key, 0.25) * 2) if quick else 0.5
                self._backoff[key] = delay
                self._restart_at[key] = now + delay
                self.write(f"stack  | {key} exited with code {code}; starting it again in {delay:g} s\n")
            elif now >= self._restart_at[key]:
                del self._restart_at[key]
                self.start(*self._services[key])
                started.append(key)
        return started

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Send `sig` to a running service (SIGKILL by default); `supervise` starts it again."""
        process = self.processes.get(name)
        if process is not None and process.poll() is None:
            process.send_signal(sig)

    def stop(self, name: str, sig: int = signal.SIGTERM, timeout: float = 25) -> int | None:
        self.stopped.add(name)
        process = self.processes.get(name)
        if process is None or process.poll() is not None:
            return None if process is None else process.returncode
        process.send_signal(sig)
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait(5)

    def stop_all(self, timeout: float = 25) -> None:
        """SIGTERM to all at once, then wait; whatever is still running at the deadline is killed."""
        self.stopped.update(self.processes)
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process in self.processes.values():
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        for pump in self.pumps:  # their pipes reach end of file once the processes are gone
            pump.join(5)
