"""`make up` brings the whole stack up, Ctrl-C stops every process it started, and it never damages what it runs
on: a second one in the same checkout, a port someone else holds, or its PostgreSQL dying are each one line."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import urllib.request
from pathlib import Path

import pytest
from tests.e2e.make_up import listening, make_up, refused, stack_env, wait_ready

from devstack.infra import EmbeddedPostgres
from devstack.processes import free_port


def _service_lines(output: str) -> list[str]:
    names = ("api", "scheduler", "preparer", "transmitter", "delivery-receipts")
    return [line.split(" | ", 1)[1] for line in output.splitlines() if line.split(" | ", 1)[0].strip() in names]


def _is_json_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


def test_make_up_serves_a_ready_stack_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    env, ports = stack_env(tmp_path)
    log_path = tmp_path / "make-up.log"
    with make_up(env, log_path) as make:
        output = wait_ready(make, log_path)
        assert f"API: http://127.0.0.1:{ports['API_PORT']}" in output
        assert f"docs: http://127.0.0.1:{ports['API_PORT']}/docs" in output
        for name in ("api", "scheduler", "preparer", "transmitter", "delivery-receipts"):
            assert f"\n{name:<17} | " in output, f"no log line prefixed with {name}"
        assert all(listening(port) for port in ports.values())
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
    still_listening = [name for name, port in ports.items() if listening(port)]  # the workers' metrics too
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
