"""Kafka handlers of the transmitter: translate an event into a service call."""

import asyncio
from collections.abc import Awaitable, Callable

from shared.events import DispatchesPrepared
from shared.runtime import Runtime
from transmitter.config import TransmitterSettings
from transmitter.providers.base import ChannelProviders
from transmitter.service import transmit_batch


def on_dispatches_prepared(
    runtime: Runtime, settings: TransmitterSettings, provider: ChannelProviders
) -> Callable[[DispatchesPrepared], Awaitable[None]]:
    concurrency = asyncio.Semaphore(settings.transmit_concurrency)

    async def handle(event: DispatchesPrepared) -> None:
        """A batch is ready: transmit what of it is still unsent."""
        await transmit_batch(
            runtime.pool,
            runtime.broker,
            provider,
            event.sending_id,
            event.dispatch_ids,
            settings.claim_lease_seconds,
            concurrency,
        )

    return handle
