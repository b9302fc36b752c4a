"""Normalized delivery receipts from providers."""

from datetime import datetime
from typing import ClassVar, Literal

from shared.domain import DeliveryStatus, DispatchId
from shared.events.base import Event
from shared.events.topics import DELIVERY_STATUS


class DeliveryStatusReceived(Event):
    """A provider reported the delivery status of one message (key: provider message id).

    The receipt is already stored in delivery-receipts' inbox (`receipt_id`): the event only announces it, and
    the inbox applies it even when the event is lost. `dispatch_id` is ours, when the provider echoed it back.
    """

    topic: ClassVar[str] = DELIVERY_STATUS
    type: Literal["delivery.status"] = "delivery.status"
    provider: str
    provider_message_id: str
    status: DeliveryStatus
    external_status: str
    reported_at: datetime
    receipt_id: int | None = None
    dispatch_id: DispatchId | None = None

    def key(self) -> str:
        return str(self.provider_message_id)
