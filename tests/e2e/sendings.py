"""What the end-to-end stories share: the messages and recipients they send, and how they post a sending,
read it back, wait for it, and talk to the broker as another platform service would."""

from __future__ import annotations

from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from tests.e2e.conftest import Stack
from tests.infra import eventually
from tests.seed import create_lc_row

from shared.events import (
    Event,
)

SENDER = "ShopSender"

SMS_MESSAGE: dict[str, Any] = {
    "name": "Greeting",
    "channels": [
        {
            "type": "sms",
            "template": {"type": "inline", "definition": {"type": "plain", "content": {"body": "Hei {{ name }}"}}},
        }
    ],
}
RECIPIENTS = [
    {"msisdn": "4740769126", "properties": {"name": "Piotr"}},
    {"msisdn": "4790000001", "properties": {"name": "Kari"}},
]


async def sending_of(stack: Stack, headers: dict[str, str], sending_id: int) -> dict[str, Any]:
    status, body = await stack.request("GET", f"/v1/messages/generic/sendings/{sending_id}", headers)
    assert status == 200, body
    sending: dict[str, Any] = body["sending"]
    return sending


async def dispatches_of(stack: Stack, headers: dict[str, str], sending_id: int) -> list[dict[str, Any]]:
    status, body = await stack.request("GET", f"/v1/messages/generic/sendings/{sending_id}/dispatches", headers)
    assert status == 200, body
    dispatches: list[dict[str, Any]] = body["dispatches"]
    return dispatches


async def post_sending(
    stack: Stack, headers: dict[str, str], sending: dict[str, Any], message: dict[str, Any] = SMS_MESSAGE
) -> int:
    """Create a message with `sending` as its first sending; returns the sending's id."""
    status, body = await stack.request(
        "POST", "/v1/messages/generic", headers, {"message": {**message, "sending": sending}}
    )
    assert status == 201, body
    sending_id: int = body["message"]["latest_sending"]["id"]
    return sending_id


async def wait_for_delivery(
    stack: Stack, headers: dict[str, str], sending_id: int, within: float
) -> list[dict[str, Any]]:
    """The sending's dispatches once it is transmitted and every dispatch is delivered."""

    async def delivered() -> list[dict[str, Any]] | None:
        sending = await sending_of(stack, headers, sending_id)
        dispatches = await dispatches_of(stack, headers, sending_id)
        done = sending["status"] == "transmitted" and all(d["delivery_status"] == "delivered" for d in dispatches)
        return dispatches if done and dispatches else None

    return await eventually(delivered, within, f"sending {sending_id} transmitted and delivered")


async def wait_for_status(
    stack: Stack, headers: dict[str, str], sending_id: int, status: str, within: float
) -> dict[str, Any]:
    async def reached() -> dict[str, Any] | None:
        sending = await sending_of(stack, headers, sending_id)
        return sending if sending["status"] == status else None

    return await eventually(reached, within, f"sending {sending_id} {status}")


async def publish(kafka: str, events: list[tuple[Event, str]]) -> dict[tuple[str, int], int]:
    """Publish events for real; returns the highest offset written per (topic, partition)."""
    producer = AIOKafkaProducer(bootstrap_servers=kafka)
    await producer.start()
    written: dict[tuple[str, int], int] = {}
    try:
        for event, key in events:
            meta = await producer.send_and_wait(event.topic, event.to_bytes(), key=key.encode())
            written[(meta.topic, meta.partition)] = max(meta.offset, written.get((meta.topic, meta.partition), -1))
    finally:
        await producer.stop()
    return written


async def committed_past(kafka: str, group: str, topic: str, partition: int, offset: int) -> bool:
    """True once `group` committed past `offset` (its handler's transaction had committed by then)."""
    probe = AIOKafkaConsumer(bootstrap_servers=kafka, group_id=group, enable_auto_commit=False)
    await probe.start()
    try:
        committed = await probe.committed(TopicPartition(topic, partition))
    finally:
        await probe.stop()
    return committed is not None and committed > offset


async def prepared_sms_sending(
    db: asyncpg.Pool, count: int, *, slug: str = "twilio", priority: int | None = None, prefix: str = "47900"
) -> tuple[int, list[int]]:
    """A prepared sending of `count` sms to `prefix` + 5 digits; returns its id and its dispatches' ids."""
    async with db.acquire() as conn:
        lc_id = await create_lc_row(conn, slug)
        template_id = await conn.fetchval(
            "INSERT INTO templates (loyalty_club_id, type, content) VALUES ($1, 'plain', $2) RETURNING id",
            lc_id,
            {"body": "Hi"},
        )
        message_id = await conn.fetchval(
            "INSERT INTO messages (loyalty_club_id, service, name) VALUES ($1, 'generic', 'T') RETURNING id", lc_id
        )
        await conn.execute(
            "INSERT INTO channels (message_id, position, type, sender, template_id) VALUES ($1, 0, 'sms', $2, $3)",
            message_id, {"type": "alphanumeric", "value": SENDER}, template_id,
        )  # fmt: skip
        sending_id: int = await conn.fetchval(
            "INSERT INTO sendings (loyalty_club_id, message_id, status, scheduled_at, dispatches_count, priority) "
            "VALUES ($1, $2, 'prepared', now(), $3, $4) RETURNING id",
            lc_id, message_id, count, priority,
        )  # fmt: skip
        rows = await conn.fetch(
            "INSERT INTO dispatches (sending_id, loyalty_club_id, recipient_key, type, content, msisdn, scheduled_at) "
            "SELECT $1, $2, 'msisdn:' || $4 || lpad(i::text, 5, '0'), 'sms', "
            "jsonb_build_object('body', 'Hei nr ' || i || ' æøå'), $4 || lpad(i::text, 5, '0'), now() "
            "FROM generate_series(1, $3) AS i RETURNING id",
            sending_id, lc_id, count, prefix,
        )  # fmt: skip
    return sending_id, sorted(r["id"] for r in rows)
