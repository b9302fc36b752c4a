"""Kafka handlers of the preparer: translate an event into a service call."""

from collections.abc import Awaitable, Callable

from preparer.config import PreparerSettings
from preparer.service import prepare_sending
from shared.events import SendingScheduled
from shared.runtime import Runtime


def on_sending_scheduled(runtime: Runtime, settings: PreparerSettings) -> Callable[[SendingScheduled], Awaitable[None]]:
    async def handle(event: SendingScheduled) -> None:
        """A sending is due: prepare its dispatches."""
        await prepare_sending(runtime.pool, runtime.broker, event.sending_id, settings.preparer_chunk_size)

    return handle
