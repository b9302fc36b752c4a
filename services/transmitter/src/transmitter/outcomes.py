"""Outcomes recorded as they come back: each provider answer is written within `flush_seconds` (or at once when
`group_size` are waiting), in one statement per group, with `transmitted_at` the time of the answer.

A provider id is therefore in Postgres a fraction of a second after the provider gave it, so a receipt rarely
has to wait for it, and progress moves smoothly. A batch handler waits for `flush()` before it completes its
sending and acknowledges its event. While the database is away the group waits and is written when it returns.
"""

import asyncio
import contextlib
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import asyncpg

from shared.db import HeldConnection
from shared.outages import UNAVAILABLE, retry_through_outages
from transmitter import repository
from transmitter.providers.base import UNREGISTERED_TOKEN, SendResult

GROUP_SIZE = 500


@dataclass
class Outcomes:
    pool: asyncpg.Pool
    flush_seconds: float = 0.1
    on_recorded: Callable[[Sequence[SendResult]], None] = lambda _: None  # once committed (metrics)
    _conn: HeldConnection = field(init=False)
    _waiting: list[SendResult] = field(default_factory=list)
    _waiting_written: asyncio.Future[None] | None = None  # resolves once the waiting group is committed
    _writing: asyncio.Future[None] | None = None  # the group being written
    _some: asyncio.Event = field(default_factory=asyncio.Event)
    _now: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self._conn = HeldConnection(self.pool)

    def add(self, result: SendResult) -> None:
        """One answer to record."""
        if self._waiting_written is None:
            self._waiting_written = asyncio.get_running_loop().create_future()
        self._waiting.append(result)
        self._some.set()
        if len(self._waiting) >= GROUP_SIZE:
            self._now.set()

    async def flush(self) -> None:
        """Return once every answer added so far is committed."""
        pending = [f for f in (self._writing, self._waiting_written if self._waiting else None) if f is not None]
        if pending:
            self._now.set()
            await asyncio.gather(*(asyncio.shield(f) for f in pending))

    async def run(self) -> None:
        """Write group after group for the life of the process."""
        async with self._conn:  # stopped: the held connection goes back to the pool
            while True:
                await self._some.wait()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._now.wait(), self.flush_seconds)
                self._now.clear()
                self._some.clear()
                group, self._waiting = self._waiting, []
                written, self._waiting_written = self._waiting_written, None
                if not group or written is None:
                    continue
                self._writing = written
                try:
                    await retry_through_outages("outcomes", functools.partial(self._write, group))
                except Exception as exc:  # not an outage: the claims expire into `ambiguous_outcome`
                    written.set_exception(exc)
                    raise
                finally:
                    self._writing = None
                written.set_result(None)
                self.on_recorded(group)

    async def _write(self, group: Sequence[SendResult]) -> None:
        conn = await self._conn.get()
        gone = [r.dispatch_id for r in group if r.error == UNREGISTERED_TOKEN]
        try:
            async with conn.transaction():
                await repository.record_outcomes(conn, group)
                await repository.clear_unregistered_tokens(conn, gone)
        except UNAVAILABLE:
            await self._conn.drop()
            raise
