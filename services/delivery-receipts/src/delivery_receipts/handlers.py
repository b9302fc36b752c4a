"""Kafka handlers of delivery-receipts: translate an event into a service call."""

from collections.abc import Awaitable, Callable

from delivery_receipts.config import ReceiptsSettings
from delivery_receipts.service import on_announced
from shared.events import DeliveryStatusReceived
from shared.runtime import Runtime


def on_delivery_statuses(
    runtime: Runtime, settings: ReceiptsSettings
) -> Callable[[list[DeliveryStatusReceived]], Awaitable[None]]:
    async def handle(events: list[DeliveryStatusReceived]) -> None:
        """Receipts were stored and announced: apply them."""
        await on_announced(runtime.pool, settings, events)

    return handle
