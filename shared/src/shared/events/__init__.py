"""Kafka events: frozen pydantic models carrying ids only (personal data stays in Postgres)."""

from shared.events.base import Event
from shared.events.delivery import DeliveryStatusReceived
from shared.events.dispatches import (
    MAX_DISPATCHES_PER_EVENT,
    DispatchesPrepared,
    DispatchTransmitted,
    TransmissionOutcome,
)
from shared.events.members import MemberDeleted, MemberUpserted
from shared.events.requests import SendingRejected, SendingRequested
from shared.events.sendings import PreparationRangeDue, SendingScheduled, SendingStatusChanged

__all__ = [
    "MAX_DISPATCHES_PER_EVENT",
    "DeliveryStatusReceived",
    "DispatchTransmitted",
    "DispatchesPrepared",
    "Event",
    "MemberDeleted",
    "MemberUpserted",
    "PreparationRangeDue",
    "SendingRejected",
    "SendingRequested",
    "SendingScheduled",
    "SendingStatusChanged",
    "TransmissionOutcome",
]
