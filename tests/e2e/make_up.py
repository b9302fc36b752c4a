"""`make up` run by a test: in its own process group, on free ports, waited for until ready, always stopped."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.paths import ROOT

from devstack.processes import free_port, port_taken

START_TIMEOUT_SECONDS = 120


def listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True
    return False


@contextlib.contextmanager
def make_up(env: dict[str, str], log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`make up` in its own process group; Ctrl-C (SIGINT to the group) on the way out, SIGKILL if it hangs."""
    with open(log_path, "ab") as log:
        make = subprocess.Popen(
            ["make", "up"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield make
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(make.pid, signal.SIGINT)
        try:
            make.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(make.pid, signal.SIGKILL)
            raise


def _three_free_ports() -> int:
    """The first of three consecutive free ports (the workers' metrics ports)."""
    while True:
        first = free_port()
        if first < 65533 and not any(port_taken(first + i) for i in range(3)):
            return first


def stack_env(tmp_path: Path) -> tuple[dict[str, str], dict[str, int]]:
    ports = {name: free_port() for name in ("API_PORT", "RECEIPTS_PORT", "LOCAL_PG_PORT", "LOCAL_KAFKA_PORT")}
    ports["LOCAL_METRICS_PORT"] = _three_free_ports()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS"}}
    env.update({k: str(v) for k, v in ports.items()}, LOCAL_DIR=str(tmp_path / "local"))
    return env, ports


def wait_ready(make: subprocess.Popen[bytes], log_path: Path) -> str:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while "stack  | ready." not in log_path.read_text(errors="replace"):
        assert make.poll() is None, f"make up exited early:\n{log_path.read_text()}"
        if time.monotonic() > deadline:
            pytest.fail(f"make up not ready after {START_TIMEOUT_SECONDS}s:\n{log_path.read_text()}")
        time.sleep(0.2)
    return log_path.read_text()


def refused(env: dict[str, str], log_path: Path) -> str:
    """`make up` that must refuse to start: returns its last line once it exited with an error."""
    with make_up(env, log_path) as make:
        code = make.wait(START_TIMEOUT_SECONDS)
    assert code != 0, f"make up did not refuse:\n{log_path.read_text()}"
    lines = [line for line in log_path.read_text().splitlines() if line.startswith("stack  |")]
    return lines[-1]
