"""Kafka handlers of the transmitter: translate an event into a service call."""

from collections.abc import Awaitable, Callable

from shared.events import DispatchesPrepared
from shared.runtime import Runtime
from transmitter.service import Sender, transmit_batch


def on_dispatches_prepared(runtime: Runtime, sender: Sender) -> Callable[[DispatchesPrepared], Awaitable[None]]:
    async def handle(event: DispatchesPrepared) -> None:
        """A batch is ready: transmit what of it is still unsent."""
        await transmit_batch(runtime.pool, runtime.broker, sender, event.sending_id, event.dispatch_ids)

    return handle
