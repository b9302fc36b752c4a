"""Per-provider pacing: at most `rate` requests per second from this process, the highest priority first.

Every request to a provider waits for a slot; slots are handed out one every 1/rate seconds, to the waiting
request of the highest sending priority (then the earliest). A 429 with `Retry-After` pauses the provider's
slots for that long, for every sending of the process. Because slots are spaced evenly, no window of one
second ever holds more than `rate` requests.
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
    _waiting: list[tuple[int, int, asyncio.Future[None]]] = field(default_factory=list)
    _order: Iterator[int] = field(default_factory=itertools.count)
    _next_slot: float = 0.0
    _paused_until: float = 0.0
    _task: asyncio.Task[None] | None = None
    _wake: asyncio.Event = field(default_factory=asyncio.Event)

    async def slot(self, priority: int | None) -> None:
        """Wait for this request's turn."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (-(priority or DEFAULT_PRIORITY), next(self._order), future))
        self._wake.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._hand_out())
        await future

    def pause(self, seconds: float) -> None:
        """The provider asked us to wait (429 `Retry-After`): no slot before then."""
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    async def _hand_out(self) -> None:
        interval = 1.01 / self.rate  # 1 % under the limit, so network jitter never puts one more in a second
        while True:
            while not self._waiting:
                self._wake.clear()
                await self._wake.wait()
            now = time.monotonic()
            start = max(now, self._next_slot, self._paused_until)
            if start > now:
                await asyncio.sleep(start - now)
                continue  # a pause or a higher priority may have arrived meanwhile
            _, _, future = heapq.heappop(self._waiting)
            if future.cancelled():
                continue
            future.set_result(None)
            self._next_slot = start + interval

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
