"""Kafka handlers of the transmitter: translate an event into a service call."""

from collections.abc import Awaitable, Callable

from shared.events import DispatchesPrepared
from shared.in_hand import hold_in_hand
from shared.runtime import Runtime
from transmitter.departures import Departures, until_gone
from transmitter.service import Sender, transmit_batch


def on_dispatches_prepared(runtime: Runtime, sender: Sender) -> Callable[[DispatchesPrepared], Awaitable[None]]:
    async def handle(event: DispatchesPrepared) -> None:
        """A batch is ready: transmit what of it is still unsent. The event is acknowledged once every dispatch
        of it has gone; its last calls finish in the background while the next batch starts."""
        departures = Departures()
        batch = transmit_batch(runtime.pool, runtime.broker, sender, event.sending_id, event.dispatch_ids, departures)
        await until_gone(hold_in_hand(runtime.broker, batch), departures)

    return handle
