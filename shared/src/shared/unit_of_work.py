"""Design §3's rule in one place: commit, then publish. Postgres is the truth and Kafka the doorbell, so an event
leaves only once the change it announces is committed; a crash in between loses only a doorbell ring, which the
scheduler's re-drive (or the inbox's own loop) rings again from what Postgres says is unfinished.

    async with UnitOfWork(pool, broker) as uow:
        ids = await repository.claim_due_sendings(uow.conn, ...)
        uow.publish(*(SendingScheduled(sending_id=i) for i in ids))

The body's statements run on `uow.conn` in one transaction (or each on its own with `atomic=False`); the events
given to `publish` wait in the unit. A clean exit (a `return` too) commits, gives the connection back, then
publishes every event under its own key (`Event.key()`) and waits for the broker's confirmation, or, with
`background=True`, without making the caller wait (only for work whose own retry loop covers a lost ring). An
exception rolls back and publishes nothing."""

from __future__ import annotations

from types import TracebackType
from typing import Self

import asyncpg
from asyncpg.pool import PoolConnectionProxy
from asyncpg.transaction import Transaction
from faststream.kafka import KafkaBroker

from shared.events.base import Event
from shared.kafka import announce_in_background, publish_events


class UnitOfWork:
    def __init__(self, pool: asyncpg.Pool, broker: KafkaBroker, *, atomic: bool = True, background: bool = False):
        self._pool = pool
        self._broker = broker
        self._atomic = atomic
        self._background = background
        self._events: list[Event] = []
        self._conn: PoolConnectionProxy[asyncpg.Record] | None = None
        self._transaction: Transaction | None = None

    @property
    def conn(self) -> PoolConnectionProxy[asyncpg.Record]:
        assert self._conn is not None, "a UnitOfWork's connection exists only inside its `async with`"
        return self._conn

    def publish(self, *events: Event) -> None:
        """Publish `events` once the unit committed (in the order given); never if it rolls back."""
        self._events.extend(events)

    async def __aenter__(self) -> Self:
        conn = self._conn = await self._pool.acquire()
        if self._atomic:
            try:
                self._transaction = conn.transaction()
                await self._transaction.start()
            except BaseException:
                await self._release()
                raise
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        try:
            if self._transaction is not None:
                if kind is None:
                    await self._transaction.commit()
                else:
                    await self._transaction.rollback()
        finally:
            await self._release()
        if kind is not None or not self._events:
            return
        events, self._events = self._events, []
        if self._background:
            announce_in_background(self._broker, events)
        else:
            await publish_events(self._broker, events)

    async def _release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await self._pool.release(conn)
