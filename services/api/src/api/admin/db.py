"""Where `messaging-admin` finds its database, and its connections to it.

DATABASE_URL wins; without it, the state file of a `make up` running in this checkout (`.local/stack.json`,
or under LOCAL_DIR) tells where its database and API are. Anything else is one line naming what was tried.
"""

import contextlib
import os
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from api.admin.errors import DatabaseUnreachable, NoDatabase, SchemaMissing
from shared.local_stack import StackState, read_state, state_path

CONNECT_TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class Target:
    """The database the commands work on, where its URL came from, and the API of the stack when known."""

    url: str
    state_file: Path | None = None  # None: DATABASE_URL
    api_url: str | None = None

    def hint(self) -> str:
        """What to do when the database does not answer."""
        if self.state_file is None:
            return "check DATABASE_URL"
        return f"the make up of {self.state_file} does not answer: is it still running? (or set DATABASE_URL)"


def find_target(environ: Mapping[str, str] = os.environ) -> Target:
    """DATABASE_URL, else the running `make up` of this checkout; raises NoDatabase saying what was tried."""
    url = environ.get("DATABASE_URL", "").strip()
    path = state_path(environ)
    try:
        state = read_state(path)
    except (OSError, ValueError) as exc:
        if url:
            return Target(url)
        reason = " ".join(str(exc).split())[:200]
        raise NoDatabase(f"{path} is not a make up state file ({reason}): remove it, or set DATABASE_URL") from None
    if url:
        return Target(url, api_url=_api_url(state, url))
    if state is None:
        raise NoDatabase(
            f"DATABASE_URL is not set and no make up runs here (no {path}): start `make up` in this checkout, "
            "or set DATABASE_URL (LOCAL_DIR: where make up keeps its state)"
        )
    if not state.running():
        raise NoDatabase(
            f"{path} is left from a make up that no longer runs (pid {state.pid}): start `make up` again, "
            "or set DATABASE_URL"
        )
    return Target(state.database_url, path, state.api_url)


def _api_url(state: StackState | None, url: str) -> str | None:
    """The stack's API, when DATABASE_URL names the stack's own database."""
    return state.api_url if state is not None and state.database_url == url and state.running() else None


def shown(url: str) -> str:
    """`url` without its password, to be printed."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


async def connect(url: str) -> asyncpg.Connection:
    """A connection to `url`; raises DatabaseUnreachable with the reason instead of the driver's error."""
    try:
        return await asyncpg.connect(url, timeout=CONNECT_TIMEOUT_SECONDS)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise DatabaseUnreachable(shown(url), reason) from None


@contextlib.asynccontextmanager
async def connection(url: str) -> AsyncIterator[asyncpg.Connection]:
    """`connect`, closed on the way out; a database never migrated raises SchemaMissing."""
    conn = await connect(url)
    try:
        yield conn
    except asyncpg.UndefinedTableError:
        raise SchemaMissing(shown(url)) from None
    finally:
        await conn.close()
