"""What providers report, as our receipts, and what a group of receipts does to their dispatches (pure rules).

A receipt names its message by the provider's message id and, where the provider echoes it back, by our
dispatch id (design §3). It applies only to a dispatch whose transmission is recorded: one still in flight makes
the receipt wait. Delivery status only moves forward: of one message's receipts the first final one reported
wins, else the last interim one; anything after a final status is stale. A receipt for a dispatch failed
`ambiguous_outcome` settles it: the provider had the message, so it was transmitted.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from shared.domain import INT64_MAX, DeliveryStatus, DispatchId

AMBIGUOUS = "ambiguous_outcome"


@dataclass(frozen=True)
class Receipt:
    """One provider report, normalized; `event_key` is the provider's identity of the report (a duplicate of it
    changes nothing)."""

    provider: str
    event_key: str
    provider_message_id: str
    status: DeliveryStatus
    external_status: str
    reported_at: datetime
    dispatch_id: DispatchId | None = None


@dataclass(frozen=True)
class Malformed:
    """A report of a batch that could not be read: its place in the batch and why."""

    index: int
    reason: str
    event_key: str | None = None


@dataclass(frozen=True)
class StoredReceipt:
    """A receipt as the inbox holds it."""

    id: int
    receipt: Receipt


@dataclass(frozen=True)
class DispatchState:
    """What a receipt needs to know of its dispatch."""

    id: DispatchId
    provider: str | None
    provider_message_id: str | None
    transmission_status: str
    error: str | None
    delivery_status: str


@dataclass(frozen=True)
class Change:
    """A dispatch's new delivery status; when `settle`, its transmission too (it was `ambiguous_outcome`)."""

    dispatch_id: DispatchId
    status: DeliveryStatus
    external_status: str
    delivered_at: datetime | None
    settle: bool = False
    provider: str | None = None
    provider_message_id: str | None = None
    transmitted_at: datetime | None = None


@dataclass
class Decision:
    changes: list[Change] = field(default_factory=list)
    closed: dict[int, str] = field(default_factory=dict)  # receipt id → applied | settled | stale
    waiting: list[int] = field(default_factory=list)  # receipt ids whose dispatch is not known or not recorded yet


def match(receipt: Receipt, by_id: Mapping[DispatchId, DispatchState],
          by_message: Mapping[tuple[str, str], DispatchState]) -> DispatchState | None:  # fmt: skip
    """The dispatch a receipt is about, or None while it is not known. A dispatch id that came back with another
    provider or message id than the dispatch's own names nothing."""
    if receipt.dispatch_id is None:
        return by_message.get((receipt.provider, receipt.provider_message_id))
    dispatch = by_id.get(receipt.dispatch_id)
    if dispatch is None:
        return None
    if dispatch.provider not in (None, receipt.provider):
        return None
    if dispatch.provider_message_id not in (None, receipt.provider_message_id):
        return None
    return dispatch


def decide(receipts: Sequence[StoredReceipt], dispatches: Sequence[DispatchState]) -> Decision:
    """What `receipts` do to `dispatches` (the rules in the module doc)."""
    by_id = {d.id: d for d in dispatches}
    by_message: dict[tuple[str, str], DispatchState] = {}
    for d in dispatches:
        if d.provider is not None and d.provider_message_id is not None:
            by_message[(d.provider, d.provider_message_id)] = d
    decision = Decision()
    per_dispatch: dict[DispatchId, list[StoredReceipt]] = {}
    for stored in receipts:
        dispatch = match(stored.receipt, by_id, by_message)
        if dispatch is None or dispatch.transmission_status == "scheduled":
            decision.waiting.append(stored.id)
        else:
            per_dispatch.setdefault(dispatch.id, []).append(stored)
    for dispatch_id, mine in per_dispatch.items():
        _decide_one(by_id[dispatch_id], mine, decision)
    return decision


def _decide_one(dispatch: DispatchState, receipts: list[StoredReceipt], decision: Decision) -> None:
    settle = dispatch.transmission_status == "failed" and dispatch.error == AMBIGUOUS
    if (dispatch.transmission_status == "failed" and not settle) or dispatch.delivery_status != "pending":
        decision.closed.update(dict.fromkeys((s.id for s in receipts), "stale"))
        return
    ordered = sorted(receipts, key=lambda s: (s.receipt.reported_at, s.id))
    final = [s for s in ordered if s.receipt.status != DeliveryStatus.PENDING]
    chosen = final[0] if final else ordered[-1]
    receipt = chosen.receipt
    decision.changes.append(
        Change(
            dispatch_id=dispatch.id,
            status=receipt.status,
            external_status=receipt.external_status,
            delivered_at=receipt.reported_at if receipt.status == DeliveryStatus.DELIVERED else None,
            settle=settle,
            provider=receipt.provider if settle else None,
            provider_message_id=receipt.provider_message_id if settle else None,
            transmitted_at=ordered[0].receipt.reported_at if settle else None,
        )
    )
    decision.closed.update(dict.fromkeys((s.id for s in receipts), "stale"))
    decision.closed[chosen.id] = "settled" if settle else "applied"


# Raw provider statuses onto ours; anything unknown leaves the dispatch pending with the raw status kept.
_SANDBOX_STATUSES = {
    "delivered": DeliveryStatus.DELIVERED,
    "failed": DeliveryStatus.FAILED,
    "undelivered": DeliveryStatus.FAILED,
}


def _dispatch_id(value: object) -> DispatchId | None:
    """Our dispatch id as a provider echoed it back (a number, or its text); None when absent."""
    if value is None or value == "":
        return None
    number = int(str(value))
    if not 0 < number <= INT64_MAX:
        raise ValueError("dispatch id out of range")
    return DispatchId(number)


def normalize_sandbox_receipt(payload: dict[str, object]) -> Receipt:
    """The sandbox's receipt (raises ValueError/KeyError/TypeError on a malformed one)."""
    raw_status = str(payload["status"])
    message_id = str(payload["message_id"])
    return Receipt(
        provider="sandbox",
        event_key=f"{message_id}:{raw_status}",
        provider_message_id=message_id,
        status=_SANDBOX_STATUSES.get(raw_status, DeliveryStatus.PENDING),
        external_status=raw_status,
        reported_at=datetime.fromisoformat(str(payload["timestamp"])),
        dispatch_id=_dispatch_id(payload.get("dispatch_id")),
    )


_GENERIC_STATUSES = {**_SANDBOX_STATUSES, "bounced": DeliveryStatus.FAILED, "rejected": DeliveryStatus.FAILED}


def normalize_generic_receipt(payload: object, webhook_id: str, received_at: datetime) -> Receipt:
    """`{"provider", "message_id", "status", "timestamp"?, "dispatch_id"?}`; its identity is the `webhook-id`."""
    if not isinstance(payload, dict):
        raise TypeError("a receipt is a JSON object")
    raw_status = str(payload["status"])
    reported = payload.get("timestamp")
    provider = str(payload["provider"])
    return Receipt(
        provider=provider,
        event_key=webhook_id,
        provider_message_id=str(payload["message_id"]),
        status=_GENERIC_STATUSES.get(raw_status, DeliveryStatus.PENDING),
        external_status=raw_status,
        reported_at=datetime.fromisoformat(str(reported)) if reported else received_at,
        dispatch_id=_dispatch_id(payload.get("dispatch_id")),
    )


# SendGrid event types (https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/event).
_SENDGRID_STATUSES = {
    "delivered": DeliveryStatus.DELIVERED,
    "bounce": DeliveryStatus.FAILED,
    "dropped": DeliveryStatus.FAILED,
}
_SENDGRID_DELIVERY_EVENTS = {"processed", "deferred", "delivered", "bounce", "dropped"}  # not opens or clicks


def normalize_sendgrid_events(payload: object) -> tuple[list[Receipt], list[Malformed]]:
    """The delivery events of a SendGrid event batch (engagement events are left out), and the events that could
    not be read. One bad event must not hold back the others: SendGrid would retry the whole batch, for ever
    the same. Our `custom_args` come back as fields of each event, `dispatch_id` among them. Raises TypeError
    when the batch itself is not an array."""
    if not isinstance(payload, list):
        raise TypeError("SendGrid posts a JSON array of events")
    receipts, malformed = [], []
    for index, item in enumerate(payload):
        if not isinstance(item, dict):
            malformed.append(Malformed(index, "an event is a JSON object"))
        elif item.get("event") in _SENDGRID_DELIVERY_EVENTS:
            try:
                receipts.append(_sendgrid_receipt(item))
            except (KeyError, ValueError, TypeError, OverflowError, OSError) as exc:  # a timestamp out of range
                malformed.append(Malformed(index, repr(exc)[:200], str(item.get("sg_event_id") or "") or None))
    return receipts, malformed


def _sendgrid_receipt(item: dict[str, Any]) -> Receipt:
    raw_status = str(item["event"])
    message_id = str(item["sg_message_id"]).split(".", 1)[0]  # "<X-Message-Id>.filter…"
    reported_at = datetime.fromtimestamp(float(item["timestamp"]), UTC)
    event_key = str(item.get("sg_event_id") or f"{message_id}:{raw_status}:{item['timestamp']}")
    if "\x00" in message_id + event_key:  # PostgreSQL text cannot hold it: the whole batch would fail to store
        raise ValueError("NUL character in an identifier")
    return Receipt(
        provider="sendgrid",
        event_key=event_key,
        provider_message_id=message_id,
        status=_SENDGRID_STATUSES.get(raw_status, DeliveryStatus.PENDING),
        external_status=raw_status,
        reported_at=reported_at,
        dispatch_id=_dispatch_id(item.get("dispatch_id")),
    )


# Twilio's MessageStatus values (https://www.twilio.com/docs/messaging/api/message-resource#message-status-values).
_TWILIO_STATUSES = {
    "delivered": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.DELIVERED,
    "undelivered": DeliveryStatus.FAILED,
    "failed": DeliveryStatus.FAILED,
}


def normalize_twilio_callback(params: Mapping[str, str], query: Mapping[str, str], received_at: datetime) -> Receipt:
    """A Twilio status callback (raises KeyError when `MessageSid` or `MessageStatus` is missing); our dispatch
    id is the `d` of the callback URL. Twilio retries a callback with the same sid and status: its identity."""
    raw_status = params["MessageStatus"]
    sid = params["MessageSid"]
    return Receipt(
        provider="twilio",
        event_key=f"{sid}:{raw_status}",
        provider_message_id=sid,
        status=_TWILIO_STATUSES.get(raw_status, DeliveryStatus.PENDING),
        external_status=raw_status if "ErrorCode" not in params else f"{raw_status} ({params['ErrorCode']})",
        reported_at=received_at,
        dispatch_id=_dispatch_id(query.get("d")),
    )
