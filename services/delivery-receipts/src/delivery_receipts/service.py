"""Receipts: normalize what providers report, and apply it to dispatches only ever forwards."""

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime

import asyncpg
import structlog

from shared.db import Conn
from shared.domain import DeliveryStatus
from shared.events import DeliveryStatusReceived
from shared.metrics import DISPATCHES_DELIVERED, RECEIPTS_APPLIED

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


_GENERIC_STATUSES = {**_SANDBOX_STATUSES, "bounced": DeliveryStatus.FAILED, "rejected": DeliveryStatus.FAILED}


def normalize_generic_receipt(payload: object, received_at: datetime) -> DeliveryStatusReceived:
    """`{"provider", "message_id", "status", "timestamp"?}` as our event (raises on a malformed one)."""
    if not isinstance(payload, dict):
        raise TypeError("a receipt is a JSON object")
    raw_status = str(payload["status"])
    reported = payload.get("timestamp")
    return DeliveryStatusReceived(
        provider=str(payload["provider"]),
        provider_message_id=str(payload["message_id"]),
        status=_GENERIC_STATUSES.get(raw_status, DeliveryStatus.PENDING),
        external_status=raw_status,
        reported_at=datetime.fromisoformat(str(reported)) if reported else received_at,
    )


# SendGrid event types (https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/event).
_SENDGRID_STATUSES = {
    "delivered": DeliveryStatus.DELIVERED,
    "bounce": DeliveryStatus.FAILED,
    "dropped": DeliveryStatus.FAILED,
}
_SENDGRID_DELIVERY_EVENTS = {"processed", "deferred", "delivered", "bounce", "dropped"}  # not opens or clicks


def normalize_sendgrid_events(payload: object) -> list[DeliveryStatusReceived]:
    """The delivery events of a SendGrid event batch as our events (engagement events are left out)."""
    if not isinstance(payload, list):
        raise TypeError("SendGrid posts a JSON array of events")
    events = []
    for item in payload:
        if not isinstance(item, dict) or item.get("event") not in _SENDGRID_DELIVERY_EVENTS:
            continue
        raw_status = str(item["event"])
        events.append(
            DeliveryStatusReceived(
                provider="sendgrid",
                provider_message_id=str(item["sg_message_id"]).split(".", 1)[0],  # "<X-Message-Id>.filter…"
                status=_SENDGRID_STATUSES.get(raw_status, DeliveryStatus.PENDING),
                external_status=raw_status,
                reported_at=datetime.fromtimestamp(float(item["timestamp"]), UTC),
            )
        )
    return events


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


def latest_word(events: Sequence[DeliveryStatusReceived]) -> list[DeliveryStatusReceived]:
    """One receipt per message: the first final one reported, else the last interim one."""
    chosen: dict[tuple[str, str], DeliveryStatusReceived] = {}
    for event in sorted(events, key=lambda e: e.reported_at):
        key = (event.provider, event.provider_message_id)
        current = chosen.get(key)
        if current is None or current.status == DeliveryStatus.PENDING:
            chosen[key] = event
    return list(chosen.values())


async def apply_delivery_statuses(pool: asyncpg.Pool, events: Sequence[DeliveryStatusReceived]) -> Counter[str]:
    """Apply a batch of receipts in one statement; a final status never changes again. Returns and records
    how many were applied, stale (duplicate or late) or unknown."""
    receipts = latest_word(events)
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            """
            WITH r AS (
                SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[])
                    AS r(provider, message_id, status, external, reported_at)
            ), updated AS (
                UPDATE dispatches d SET delivery_status = r.status, external_delivery_status = r.external,
                    delivered_at = CASE WHEN r.status = 'delivered' THEN r.reported_at END, updated_at = now()
                FROM r WHERE d.provider = r.provider AND d.provider_message_id = r.message_id
                    AND d.delivery_status = 'pending'
                RETURNING d.provider, d.provider_message_id
            )
            SELECT r.provider, r.status,
                   EXISTS (SELECT 1 FROM updated u WHERE u.provider = r.provider
                           AND u.provider_message_id = r.message_id) AS applied,
                   EXISTS (SELECT 1 FROM dispatches d WHERE d.provider = r.provider
                           AND d.provider_message_id = r.message_id) AS known
            FROM r
            """,
            [e.provider for e in receipts],
            [e.provider_message_id for e in receipts],
            [e.status.value for e in receipts],
            [e.external_status for e in receipts],
            [e.reported_at for e in receipts],
        )
        outcomes: Counter[tuple[str, str]] = Counter(
            (r["provider"], "applied" if r["applied"] else "stale" if r["known"] else "unknown") for r in rows
        )
        # Receipts of a message that the same batch reported again are stale too.
        kept = Counter(e.provider for e in receipts)
        for provider, count in Counter(e.provider for e in events).items():
            if count > kept[provider]:
                outcomes[(provider, "stale")] += count - kept[provider]
        await record_outcomes(conn, outcomes)
    count_outcomes(outcomes)
    for row in rows:
        if row["applied"] and row["status"] != DeliveryStatus.PENDING.value:
            DISPATCHES_DELIVERED.labels(row["provider"], row["status"]).inc()
    if any(o == "unknown" for _, o in outcomes):
        log.info("receipts_for_unknown_messages", count=sum(n for (_, o), n in outcomes.items() if o == "unknown"))
    return Counter({outcome: n for (_, outcome), n in outcomes.items()})


async def record_outcomes(conn: Conn, outcomes: Counter[tuple[str, str]]) -> None:
    """Add to the receipts' counts in the caller's transaction (`count_outcomes` after it committed)."""
    if not outcomes:
        return
    await conn.execute(
        "INSERT INTO receipt_counts (provider, outcome, count) "
        "SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[]) "
        "ON CONFLICT (provider, outcome) DO UPDATE SET count = receipt_counts.count + EXCLUDED.count",
        [p for p, _ in outcomes],
        [o for _, o in outcomes],
        list(outcomes.values()),
    )


def count_outcomes(outcomes: Counter[tuple[str, str]]) -> None:
    """The metric of the receipts' outcomes; called once the transaction that recorded them committed."""
    for (provider, outcome), n in outcomes.items():
        RECEIPTS_APPLIED.labels(provider, outcome).inc(n)
