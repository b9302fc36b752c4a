"""Kafka handlers of the preparer: translate an event into a service call."""

from collections.abc import Awaitable, Callable

from preparer.config import PreparerSettings
from preparer.service import prepare_range, start_preparation
from shared.events import PreparationRangeDue, SendingScheduled
from shared.runtime import Runtime


def on_sending_scheduled(runtime: Runtime, settings: PreparerSettings) -> Callable[[SendingScheduled], Awaitable[None]]:
    async def handle(event: SendingScheduled) -> None:
        """A sending is due: split it into ranges and prepare the first."""
        await start_preparation(runtime.pool, runtime.broker, event.sending_id, settings)

    return handle


def on_preparation_range(
    runtime: Runtime, settings: PreparerSettings
) -> Callable[[PreparationRangeDue], Awaitable[None]]:
    async def handle(event: PreparationRangeDue) -> None:
        """One range of a large sending: prepare it from its cursor."""
        await prepare_range(runtime.pool, runtime.broker, event.sending_id, event.range_no, settings)

    return handle
