"""`make up` brings the whole stack up, Ctrl-C stops every process it started, and it never damages what it runs
on: a second one in the same checkout, a port someone else holds, or its PostgreSQL dying are each one line."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.infra import EmbeddedPostgres, free_port, port_taken

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_SECONDS = 120


def _listening(port: int) -> bool:
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


def _service_lines(output: str) -> list[str]:
    names = ("api", "scheduler", "preparer", "transmitter", "delivery-receipts")
    return [line.split(" | ", 1)[1] for line in output.splitlines() if line.split(" | ", 1)[0].strip() in names]


def _is_json_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


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


def test_make_up_serves_a_ready_stack_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    env, ports = stack_env(tmp_path)
    log_path = tmp_path / "make-up.log"
    with make_up(env, log_path) as make:
        output = wait_ready(make, log_path)
        assert f"API: http://127.0.0.1:{ports['API_PORT']}" in output
        assert f"docs: http://127.0.0.1:{ports['API_PORT']}/docs" in output
        for name in ("api", "scheduler", "preparer", "transmitter", "delivery-receipts"):
            assert f"\n{name:<17} | " in output, f"no log line prefixed with {name}"
        assert all(_listening(port) for port in ports.values())
        metrics = re.search(r"stack  \| metrics: (.*)", output)
        assert metrics is not None, output
        urls = dict(re.findall(r"(\S+) (http://127\.0\.0\.1:\d+/metrics)", metrics.group(1)))
        assert set(urls) == {"api", "scheduler", "preparer", "transmitter", "delivery-receipts"}
        for name, url in urls.items():
            with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 - our own URL
                assert b"# TYPE" in answer.read(), f"{name}'s {url} serves no Prometheus metrics"
        not_json = [line for line in _service_lines(output) if not _is_json_object(line)]
        assert not_json == [], "every service line is one JSON object (LOG_JSON), FastStream's too"
    assert "stack  | stopped" in log_path.read_text()
    still_listening = [name for name, port in ports.items() if _listening(port)]  # the workers' metrics too
    assert still_listening == []


def test_a_second_make_up_in_the_same_checkout_refuses_and_leaves_the_first_stack_whole(tmp_path: Path) -> None:
    env, ports = stack_env(tmp_path)
    pid_file = tmp_path / "local" / "pgdata" / "postmaster.pid"
    with make_up(env, tmp_path / "first.log") as first:
        wait_ready(first, tmp_path / "first.log")
        lock_before = pid_file.read_text()
        line = refused(env, tmp_path / "second.log")
        assert re.fullmatch(r"stack  \| a stack is already running from this checkout \(pid \d+\)", line), line
        assert "stack  | ready." not in (tmp_path / "second.log").read_text()
        assert pid_file.read_text() == lock_before, "the first stack's PostgreSQL lock file was touched"
        assert first.poll() is None
        with urllib.request.urlopen(f"http://127.0.0.1:{ports['API_PORT']}/readyz/pipeline", timeout=10) as answer:
            assert answer.status == 200


@pytest.mark.parametrize("variable", ["LOCAL_PG_PORT", "LOCAL_KAFKA_PORT", "API_PORT"])
def test_make_up_refuses_a_port_another_process_holds_and_names_the_variable(tmp_path: Path, variable: str) -> None:
    env, ports = stack_env(tmp_path)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as other:  # another server on the port
        other.bind(("127.0.0.1", ports[variable]))
        other.listen()
        line = refused(env, tmp_path / "make-up.log")
    assert line == f"stack  | port {ports[variable]} is taken by another process: set {variable} to a free port"
    assert not (tmp_path / "local" / "pgdata").exists(), "something was started before the ports were checked"


def test_make_up_does_not_take_another_postgresql_for_its_own(tmp_path: Path) -> None:
    """The port is free when `make up` looks, but another PostgreSQL takes it before ours listens: ours fails to
    bind, and `make up` must not take the other server's answers for its own."""
    other = EmbeddedPostgres(tmp_path / "other", port=free_port()).start()
    try:
        server = EmbeddedPostgres(tmp_path / "ours", port=other.port)
        with pytest.raises(RuntimeError, match="PostgreSQL exited with code"):
            server.start(timeout=30)
        server.stop()
    finally:
        other.stop()


def test_make_up_stops_saying_so_when_its_postgresql_dies(tmp_path: Path) -> None:
    env, _ = stack_env(tmp_path)
    log_path = tmp_path / "make-up.log"
    with make_up(env, log_path) as make:
        wait_ready(make, log_path)
        postmaster = int((tmp_path / "local" / "pgdata" / "postmaster.pid").read_text().split()[0])
        os.kill(postmaster, signal.SIGKILL)
        code = make.wait(60)
    assert code != 0
    assert re.search(r"stack  \| PostgreSQL exited with code -9: stopping the stack", log_path.read_text())
    assert "stack  | stopped" in log_path.read_text()
