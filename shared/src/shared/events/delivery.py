"""Normalized delivery receipts from providers."""

from datetime import datetime
from typing import ClassVar, Literal

from shared.domain import DeliveryStatus
from shared.events.base import Event
from shared.events.topics import DELIVERY_STATUS


class DeliveryStatusReceived(Event):
    """A provider reported the delivery status of one message (key: provider message id)."""

    topic: ClassVar[str] = DELIVERY_STATUS
    type: Literal["delivery.status"] = "delivery.status"
    provider: str
    provider_message_id: str
    status: DeliveryStatus
    external_status: str
    reported_at: datetime
