"""Claims per call: a dispatch is marked attempted right before its own request leaves, never per batch.

Every request about to leave asks for its claim; whatever asked while the previous statement ran is claimed by
the next one (a group commit), so one UPDATE serves every call in flight however many there are, and a request
waits about one round trip. A request whose provider refused it transiently gives its claim back (the provider
does not have the message) before it waits to try again. Hence only calls in flight hold claims: a crash leaves
at most those without an outcome (`ambiguous_outcome` once their lease expires), and every other dispatch of
the batch is free for the next transmitter at once.
"""

import asyncio
import functools
from dataclasses import dataclass, field

import asyncpg

from shared.db import HeldConnection
from shared.domain import DispatchId
from shared.outages import UNAVAILABLE, retry_through_outages
from transmitter import repository


@dataclass
class Claims:
    pool: asyncpg.Pool
    lease_seconds: float  # a claim not settled within this (its process died) ⇒ `ambiguous_outcome`
    _conn: HeldConnection = field(init=False)
    _claims: list[tuple[DispatchId, asyncio.Future[bool]]] = field(default_factory=list)
    _releases: list[tuple[DispatchId, asyncio.Future[None]]] = field(default_factory=list)
    _asked: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self._conn = HeldConnection(self.pool)

    async def claim(self, dispatch_id: DispatchId) -> bool:
        """True once the dispatch is claimed for this request; False when it is not ours to send (another
        transmitter has it, it was sent, or its sending stopped)."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._claims.append((dispatch_id, future))
        self._asked.set()
        return await future

    async def release(self, dispatch_id: DispatchId) -> None:
        """Give the claim back (the provider refused the request transiently); returns once it is recorded."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._releases.append((dispatch_id, future))
        self._asked.set()
        await future

    async def run(self) -> None:
        """Write what was asked, group after group, for the life of the process."""
        async with self._conn:  # stopped: the held connection goes back to the pool
            while True:
                await self._asked.wait()
                self._asked.clear()
                claims, self._claims = self._claims, []
                releases, self._releases = self._releases, []
                try:
                    claimed = await retry_through_outages("claims", functools.partial(self._write, claims, releases))
                except Exception as exc:  # not an outage: these requests do not go out, their handlers fail
                    futures: list[asyncio.Future[bool] | asyncio.Future[None]] = [f for _, f in claims]
                    futures += [f for _, f in releases]
                    for future in futures:
                        if not future.done():
                            future.set_exception(exc)
                    raise
                for dispatch_id, claim in claims:
                    if not claim.done():  # a duplicate request for one dispatch gets it once
                        claim.set_result(dispatch_id in claimed)
                        claimed.discard(dispatch_id)
                for _, release in releases:
                    if not release.done():
                        release.set_result(None)

    async def _write(
        self,
        claims: list[tuple[DispatchId, asyncio.Future[bool]]],
        releases: list[tuple[DispatchId, asyncio.Future[None]]],
    ) -> set[DispatchId]:
        # One statement each, no transaction: a release and a claim of one dispatch are never in one group (a
        # request waits for its release to be written before it asks again).
        conn = await self._conn.get()
        try:
            if releases:
                await repository.release_claims(conn, [d for d, _ in releases])
            if not claims:
                return set()
            return await repository.claim_dispatches(conn, [d for d, _ in claims], self.lease_seconds)
        except UNAVAILABLE:
            await self._conn.drop()
            raise
