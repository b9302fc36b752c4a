"""The messages a broker's handlers hold, so that a stopping process gives back what arrives and waits for what
it holds: offsets are committed while the consumers still own their partitions."""

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator, Awaitable
from typing import TypeVar

from faststream.exceptions import NackMessage
from faststream.kafka import KafkaBroker

T = TypeVar("T")

GRACEFUL_SECONDS = 30.0  # how long a stopping process waits for the messages in hand
GIVE_BACK_SECONDS = 0.1  # a message that arrives while the process stops waits this long before it goes back


class _InHand:
    """The messages a broker's handlers hold. Once the process stops, a message that arrives is given back
    untouched (not acknowledged: its partition's next consumer gets it), and the stop waits for those in hand."""

    def __init__(self) -> None:
        self.count = 0
        self.stopping = False
        self._idle: asyncio.Event | None = None

    @contextlib.asynccontextmanager
    async def holding(self, refuse: bool = True) -> AsyncIterator[None]:
        if self.stopping and refuse:
            await asyncio.sleep(GIVE_BACK_SECONDS)  # no busy loop of fetches while the consumers stop
            raise NackMessage()
        self.count += 1
        try:
            yield
        finally:
            self.count -= 1
            if self.count == 0 and self._idle is not None:
                self._idle.set()

    async def finish(self, grace: float) -> None:
        self.stopping = True
        if self.count:
            self._idle = asyncio.Event()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), grace)


_in_hand: weakref.WeakKeyDictionary[KafkaBroker, _InHand] = weakref.WeakKeyDictionary()


def messages_in_hand(broker: KafkaBroker) -> _InHand:
    return _in_hand.setdefault(broker, _InHand())


async def finish_messages_in_hand(broker: KafkaBroker, grace: float = GRACEFUL_SECONDS) -> None:
    """Take no new message and wait (up to `grace` seconds) until the handlers finished those in hand, while their
    consumers still hold the partitions: so the offsets are committed before the consumers leave the group.
    (FastStream's concurrent subscriber stops its consumers before it waits for its handlers.)"""
    await messages_in_hand(broker).finish(grace)


async def hold_in_hand(broker: KafkaBroker, work: Awaitable[T]) -> T:
    """Await `work` as a message in hand, so a stopping process waits for it: for a handler's work that goes on
    after its message was acknowledged (the transmitter's last calls of a batch)."""
    async with messages_in_hand(broker).holding(refuse=False):
        return await work
