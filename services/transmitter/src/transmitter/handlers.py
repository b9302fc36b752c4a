"""Kafka handlers of the transmitter: translate an event into a service call."""

from collections.abc import Awaitable, Callable

from shared.events import DispatchesPrepared
from shared.runtime import Runtime
from transmitter.config import TransmitterSettings
from transmitter.service import Sender, transmit_batch


def on_dispatches_prepared(
    runtime: Runtime, settings: TransmitterSettings, sender: Sender
) -> Callable[[DispatchesPrepared], Awaitable[None]]:
    async def handle(event: DispatchesPrepared) -> None:
        """A batch is ready: transmit what of it is still unsent."""
        await transmit_batch(
            runtime.pool, runtime.broker, sender, event.sending_id, event.dispatch_ids, settings.claim_lease_seconds
        )

    return handle
