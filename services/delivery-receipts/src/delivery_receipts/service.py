"""Receipts: normalize what providers report, and apply it to dispatches only ever forwards."""

from datetime import datetime

import asyncpg
import structlog

from shared.domain import DeliveryStatus
from shared.events import DeliveryStatusReceived

log = structlog.get_logger(__name__)

# Raw provider statuses onto ours; anything unknown leaves the dispatch pending with the raw status kept.
_SANDBOX_STATUSES = {
    "delivered": DeliveryStatus.DELIVERED,
    "failed": DeliveryStatus.FAILED,
    "undelivered": DeliveryStatus.FAILED,
}


def normalize_sandbox_receipt(payload: dict[str, object]) -> DeliveryStatusReceived:
    """The sandbox's receipt as our event (raises ValueError/KeyError on a malformed one)."""
    raw_status = str(payload["status"])
    reported_at = datetime.fromisoformat(str(payload["timestamp"]))
    return DeliveryStatusReceived(
        provider="sandbox",
        provider_message_id=str(payload["message_id"]),
        status=_SANDBOX_STATUSES.get(raw_status, DeliveryStatus.PENDING),
        external_status=raw_status,
        reported_at=reported_at,
    )


# Twilio's MessageStatus values (https://www.twilio.com/docs/messaging/api/message-resource#message-status-values).
_TWILIO_STATUSES = {
    "delivered": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.DELIVERED,
    "undelivered": DeliveryStatus.FAILED,
    "failed": DeliveryStatus.FAILED,
}


def normalize_twilio_callback(params: dict[str, str], reported_at: datetime) -> DeliveryStatusReceived:
    """A Twilio status callback as our event (raises KeyError when `MessageSid` or `MessageStatus` is missing)."""
    raw_status = params["MessageStatus"]
    return DeliveryStatusReceived(
        provider="twilio",
        provider_message_id=params["MessageSid"],
        status=_TWILIO_STATUSES.get(raw_status, DeliveryStatus.PENDING),
        external_status=raw_status if "ErrorCode" not in params else f"{raw_status} ({params['ErrorCode']})",
        reported_at=reported_at,
    )


async def apply_delivery_status(pool: asyncpg.Pool, event: DeliveryStatusReceived) -> bool:
    """Set the dispatch's delivery status if it is still pending: delivered or failed never change again."""
    result: str = await pool.execute(
        "UPDATE dispatches SET delivery_status = $3, external_delivery_status = $4, "
        "delivered_at = CASE WHEN $3 = 'delivered' THEN $5::timestamptz END, updated_at = now() "
        "WHERE provider = $1 AND provider_message_id = $2 AND delivery_status = 'pending'",
        event.provider,
        event.provider_message_id,
        event.status.value,
        event.external_status,
        event.reported_at,
    )
    applied = result.rsplit(maxsplit=1)[-1] != "0"
    if not applied:
        log.info(
            "receipt_not_applied",
            provider=event.provider,
            provider_message_id=event.provider_message_id,
            status=event.status.value,
            reason="unknown message or status already final",
        )
    return applied
