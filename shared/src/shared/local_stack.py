"""The state file of a running `make up`, `.local/stack.json`: where its database, broker and API are.

The local runner writes it once the stack is ready and removes it when the stack stops; `messaging-admin`
reads it when DATABASE_URL is not set, so that a person with `make up` running needs no variable at all.
"""

import contextlib
import os
from collections.abc import Mapping
from pathlib import Path

import orjson
from pydantic import BaseModel, ConfigDict

STATE_FILE_NAME = "stack.json"


class StackState(BaseModel):
    """What a running local stack tells the tools beside it."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    pid: int
    database_url: str
    kafka_bootstrap_servers: str
    api_url: str
    receipts_url: str

    def running(self) -> bool:
        """Whether the process that wrote the file still runs (a killed `make up` cannot remove its file)."""
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # another user's process: it runs
            return True
        return True


def local_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """LOCAL_DIR, else `.local` of the current directory, made absolute: the rule of `make up`."""
    return Path(environ.get("LOCAL_DIR", ".local")).resolve()


def state_path(environ: Mapping[str, str] = os.environ) -> Path:
    """Where the state file of the stack of `local_dir` is."""
    return local_dir(environ) / STATE_FILE_NAME


def write_state(path: Path, state: StackState) -> None:
    """Write the file whole or not at all: a reader never sees half of it."""
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_bytes(orjson.dumps(state.model_dump(), option=orjson.OPT_INDENT_2) + b"\n")
    partial.replace(path)


def remove_state(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def read_state(path: Path) -> StackState | None:
    """The state in the file, or None when there is no file; raises ValueError for a file that is not one."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    return StackState.model_validate_json(raw)
