"""Ids, statuses and channel types shared by every service."""

from enum import StrEnum
from typing import NewType

LoyaltyClubId = NewType("LoyaltyClubId", int)
MessageId = NewType("MessageId", int)
SendingId = NewType("SendingId", int)
DispatchId = NewType("DispatchId", int)


class ChannelType(StrEnum):
    SMS = "sms"
    EMAIL = "email"
    PUSH = "push"


class SendingStatus(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    PREPARING = "preparing"
    PREPARED = "prepared"
    TRANSMITTING = "transmitting"
    TRANSMITTED = "transmitted"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"
    FAILED = "failed"


# Services whose messages are marketing unless the message says otherwise (spec §1.2).
# PostgreSQL bigint (member ids, dispatch ids, every BIGSERIAL): the bounds every check of an id uses.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

# The members/dispatches column holding each channel's recipient address.
IDENTIFIER_BY_CHANNEL: dict[str, str] = {
    ChannelType.SMS: "msisdn",
    ChannelType.EMAIL: "email",
    ChannelType.PUSH: "app_token",
}

# The PostgreSQL NOTIFY channel on which the api wakes the scheduler when a sending may be due.
SENDINGS_DUE_CHANNEL = "sendings_due"
# The channel on which a sending's status change (migration 0010's trigger) wakes the scheduler's status relay.
SENDING_STATUS_CHANNEL = "sending_status_outbox"

MARKETING_SERVICES = frozenset({"campaigns", "campaigns_testing", "tenants", "tenants_testing"})

FINAL_SENDING_STATUSES = frozenset(
    {SendingStatus.TRANSMITTED, SendingStatus.SKIPPED, SendingStatus.CANCELLED, SendingStatus.FAILED}
)


class TransmissionStatus(StrEnum):
    SCHEDULED = "scheduled"
    TRANSMITTED = "transmitted"
    FAILED = "failed"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


# Spec §2.2: what a client may still change, and what it may still cancel.
EDITABLE_SENDING_STATUSES = frozenset({SendingStatus.DRAFT, SendingStatus.SCHEDULED})
CANCELLABLE_SENDING_STATUSES = frozenset(
    {SendingStatus.SCHEDULED, SendingStatus.PREPARING, SendingStatus.PREPARED, SendingStatus.TRANSMITTING}
)
