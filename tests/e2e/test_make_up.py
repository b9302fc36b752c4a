"""`make up` brings the whole stack up, and Ctrl-C stops every process it started."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from devstack.infra import free_port

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_SECONDS = 120


def _listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True
    return False


def test_make_up_serves_a_ready_stack_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    ports = {name: free_port() for name in ("API_PORT", "RECEIPTS_PORT", "LOCAL_PG_PORT", "LOCAL_KAFKA_PORT")}
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS"}}
    env.update({k: str(v) for k, v in ports.items()}, LOCAL_DIR=str(tmp_path / "local"))
    log_path = tmp_path / "make-up.log"
    with open(log_path, "wb") as log:
        make = subprocess.Popen(
            ["make", "up"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while "stack  | ready." not in log_path.read_text(errors="replace"):
            assert make.poll() is None, f"make up exited early:\n{log_path.read_text()}"
            if time.monotonic() > deadline:
                pytest.fail(f"make up not ready after {START_TIMEOUT_SECONDS}s:\n{log_path.read_text()}")
            time.sleep(0.2)
        output = log_path.read_text()
        assert f"API: http://127.0.0.1:{ports['API_PORT']}" in output
        assert f"docs: http://127.0.0.1:{ports['API_PORT']}/docs" in output
        for name in ("api", "scheduler", "preparer", "transmitter", "delivery-receipts"):
            assert f"\n{name:<17} | " in output, f"no log line prefixed with {name}"
        assert all(_listening(port) for port in ports.values())
    finally:
        # Ctrl-C: SIGINT to the foreground process group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(make.pid, signal.SIGINT)
        try:
            make.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(make.pid, signal.SIGKILL)
            raise
    assert "stack  | stopped" in log_path.read_text()
    still_listening = [name for name, port in ports.items() if _listening(port)]
    assert still_listening == []
