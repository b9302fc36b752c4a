"""Per-provider pacing: at most `rate` requests per second and `concurrency` calls in flight from this
process, the highest priority first.

Every request to a provider waits for a grant: a slot in time together with a call permit, handed to the
waiting request of the highest sending priority (then the earliest), only while fewer than `concurrency`
calls are in flight, and at least 1/rate seconds after the previous grant. Because slot and permit come
together, nothing waits in between: a low-priority request never sits on a permit while a high-priority one
waits, and requests never pile up behind busy permits to go out all at once when a stalled provider answers
together. Grants are made where a waiter arrives or a call ends, or by a timer when the rate is what holds
them back. A 429 with `Retry-After` pauses the provider's grants for that long, for every sending of the
process.
"""

import asyncio
import heapq
import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

DEFAULT_PRIORITY = 5  # a sending without priority, as the scheduler orders them


@dataclass
class Pacer:
    rate: float
    concurrency: int
    _waiting: list[tuple[int, int, asyncio.Future[bool]]] = field(default_factory=list)
    _order: Iterator[int] = field(default_factory=itertools.count)
    _in_flight: int = 0
    _next_slot: float = 0.0  # times on time.monotonic(): uvloop's loop clock moves once per loop pass, in ms
    _paused_until: float = 0.0
    _timer: asyncio.Handle | None = None  # uvloop's call_at answers a Handle without `when()`: keep the time here
    _timer_due: float = 0.0
    _stopped: bool = False

    @property
    def interval(self) -> float:
        # 5 % under the limit: a granted request reaches the provider after a variable delay (the event loop,
        # the network), and a second of arrivals must still never hold one more than the limit.
        return 1.05 / self.rate

    async def slot(self, priority: int | None) -> bool:
        """Wait for this request's grant; True once the caller holds a call permit (to give back with `release`),
        False when the pacer was stopped (the process is stopping: the request does not go out)."""
        if self._stopped:
            return False
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (-(priority or DEFAULT_PRIORITY), next(self._order), future))
        self._grant()
        try:
            return await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled() and future.result():  # granted just as it was cancelled
                self.release()
            raise

    def stop(self) -> None:
        """Grant nothing more: every waiting request and every later one is refused at once."""
        self._stopped = True
        waiting, self._waiting = self._waiting, []
        for _, _, future in waiting:
            if not future.done():
                future.set_result(False)

    def release(self) -> None:
        """A granted call is over: its permit goes to the next waiter as soon as the rate allows."""
        self._in_flight -= 1
        self._grant()

    def pause(self, seconds: float) -> None:
        """The provider asked us to wait (429 `Retry-After`): no grant before then."""
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    def _grant(self) -> None:
        while self._waiting and self._in_flight < self.concurrency:
            now = time.monotonic()
            due = max(self._next_slot, self._paused_until)
            if due > now:
                self._wake_at(due, now)
                return
            _, _, future = heapq.heappop(self._waiting)
            if future.cancelled():
                continue
            future.set_result(True)
            self._in_flight += 1
            self._next_slot = now + self.interval

    def _wake_at(self, due: float, now: float) -> None:
        if self._timer is not None and not self._timer.cancelled() and self._timer_due <= due:
            return  # an earlier wake-up is set; it sets the next one
        if self._timer is not None:
            self._timer.cancel()
        self._timer_due = due
        self._timer = asyncio.get_running_loop().call_later(due - now, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._grant()

    async def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
