"""A sending travels API → scheduler → preparer → transmitter → sandbox → webhook → delivered, for real."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

from tests.e2e.conftest import Stack
from tests.e2e.sendings import (
    RECIPIENTS,
    SMS_MESSAGE,
    committed_past,
    dispatches_of,
    post_sending,
    publish,
    sending_of,
    wait_for_delivery,
    wait_for_status,
)
from tests.infra import eventually

from api.schemas import RELATIVE_SCHEDULE_FORMAT
from shared.events import (
    DeliveryStatusReceived,
    DispatchesPrepared,
    Event,
    SendingScheduled,
)


async def _pause() -> None:
    await asyncio.sleep(0.1)


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def test_an_immediate_sms_sending_is_delivered_to_every_recipient_within_ten_seconds(stack: Stack) -> None:
    headers = stack.new_tenant("acme")
    started = time.monotonic()
    sending_id = await post_sending(stack, headers, {"schedule": {"type": "immediate"}, "recipients": RECIPIENTS})
    dispatches = await wait_for_delivery(stack, headers, sending_id, 10 - (time.monotonic() - started))
    elapsed = time.monotonic() - started
    sending = await sending_of(stack, headers, sending_id)
    assert sending["dispatches_count"] == 2
    assert sending["stats"]["delivered"] == 2
    assert {d["msisdn"]: d["content"]["body"] for d in dispatches} == {
        "4740769126": "Hei Piotr",
        "4790000001": "Hei Kari",
    }
    assert all(d["transmission_status"] == "transmitted" and d["delivered_at"] for d in dispatches)
    assert elapsed < 10
    print(f"\nPOST to both dispatches delivered: {elapsed:.2f} s")


async def test_an_absolute_schedule_is_prepared_only_at_its_time_and_transmitted_after_it(stack: Stack) -> None:
    headers = stack.new_tenant("later")
    at = datetime.now(UTC) + timedelta(seconds=4)
    sending_id = await post_sending(
        stack, headers, {"schedule": {"type": "absolute", "at": at.isoformat()}, "recipients": RECIPIENTS[:1]}
    )

    while datetime.now(UTC) < at - timedelta(milliseconds=300):
        assert (await sending_of(stack, headers, sending_id))["status"] == "scheduled"
        assert await dispatches_of(stack, headers, sending_id) == []
        await _pause()

    sending = await wait_for_status(stack, headers, sending_id, "transmitted", 15)
    [dispatch] = await dispatches_of(stack, headers, sending_id)
    assert _parse(dispatch["created_at"]) >= at - timedelta(milliseconds=1)
    assert _parse(dispatch["transmitted_at"]) >= at
    assert _parse(sending["transmitted_at"]) >= at
    assert sending["scheduled_with"] == {"type": "absolute", "at": at.isoformat()}


async def test_a_relative_schedule_with_an_unknown_unit_is_a_422_with_the_error_tree(stack: Stack) -> None:
    headers = stack.new_tenant("typo")
    status, body = await stack.request(
        "POST",
        "/v1/messages/generic",
        headers,
        {
            "message": {
                **SMS_MESSAGE,
                "sending": {"schedule": {"type": "relative", "in": "2 fortnights"}, "recipients": RECIPIENTS},
            }
        },
    )
    assert status == 422
    assert body == {
        "error": "Invalid parameters",
        "details": {
            "message": {
                "sending": {
                    "schedule": {
                        "in": [
                            {
                                "value": "2 fortnights",
                                "error": "invalid",
                                "options": {"format": RELATIVE_SCHEDULE_FORMAT},
                                "message": "is invalid",
                            }
                        ]
                    }
                }
            }
        },
    }
    count = await stack.pool.fetchval(
        "SELECT count(*) FROM messages m JOIN loyalty_clubs lc ON lc.id = m.loyalty_club_id WHERE lc.slug = 'typo'"
    )
    assert count == 0


async def test_tenant_headers_and_tokens_are_enforced(stack: Stack) -> None:
    owner = stack.new_tenant("owner")
    other = stack.new_tenant("other")
    reader = stack.new_tenant("reader", "Messages:Api:Messages:List", "Messages:Api:Messages:UseService:Generic")
    status, body = await stack.request("POST", "/v1/messages/generic", owner, {"message": SMS_MESSAGE})
    assert status == 201, body
    path = f"/v1/messages/generic/{body['message']['id']}"

    assert (await stack.request("GET", path, owner))[0] == 200
    no_slug = {k: v for k, v in owner.items() if k != "X-Loyalty-Club-Slug"}
    assert await stack.request("GET", path, no_slug) == (470, {"error": "Missing required header X-Loyalty-Club-Slug"})
    no_agent = {k: v for k, v in owner.items() if k != "X-User-Agent"}
    assert (await stack.request("GET", path, no_agent))[0] == 470
    assert (await stack.request("GET", path, {**owner, "X-Loyalty-Club-Slug": "nope"}))[0] == 471
    assert (await stack.request("GET", path, {**owner, "X-Client-Authorization": "forged"}))[0] == 401
    no_token = {k: v for k, v in owner.items() if k != "X-Client-Authorization"}
    assert (await stack.request("GET", path, no_token))[0] == 401
    bearer = {**no_token, "Authorization": f"Bearer {owner['X-Client-Authorization']}"}
    assert (await stack.request("GET", path, bearer))[0] == 200
    # A valid token, but for another LC than the one named.
    assert (await stack.request("GET", path, {**other, "X-Loyalty-Club-Slug": "owner"}))[0] == 401
    status, body = await stack.request("GET", path, reader)
    assert status == 403
    assert "Messages:Api:Messages:Get" in body["error"]
    assert await stack.request("GET", path, other) == (404, {"error": "Message not found"})
    assert await stack.request("POST", "/v1/messages/generic", other, b"{not json") == (400, None)


async def test_the_same_event_delivered_again_changes_nothing(stack: Stack) -> None:
    headers = stack.new_tenant("twice")
    sending_id = await post_sending(stack, headers, {"schedule": {"type": "immediate"}, "recipients": RECIPIENTS})
    before = await wait_for_delivery(stack, headers, sending_id, 15)
    assert len(before) == 2
    sent_before = await stack.pool.fetch(
        "SELECT provider_message_id, dispatch_id FROM sandbox_messages WHERE dispatch_id = ANY($1)",
        [d["id"] for d in before],
    )
    assert len(sent_before) == 2
    replays: list[tuple[Event, str]] = [
        (SendingScheduled(sending_id=sending_id), str(sending_id)),
        (DispatchesPrepared(sending_id=sending_id, dispatch_ids=[d["id"] for d in before]), str(sending_id)),
    ]
    for row in sent_before:
        for raw in ("delivered", "sent"):  # the same receipt again, and a late earlier status
            receipt = DeliveryStatusReceived(
                provider="sandbox",
                provider_message_id=row["provider_message_id"],
                status="delivered" if raw == "delivered" else "pending",
                external_status=raw,
                reported_at=datetime.now(UTC),
            )
            replays.append((receipt, row["provider_message_id"]))
    written = await publish(stack.kafka, replays)
    groups = {
        "sending.scheduled": "preparer",
        "dispatches.prepared": "transmitter",
        "delivery.status": "delivery-receipts",
    }
    for (topic, partition), offset in written.items():

        async def consumed(t: str = topic, p: int = partition, o: int = offset) -> bool:
            return await committed_past(stack.kafka, groups[t], t, p, o)

        await eventually(consumed, 20, f"{groups[topic]} to consume {topic}[{partition}]@{offset}", interval=0.2)

    after = await dispatches_of(stack, headers, sending_id)
    assert after == before
    sent_after = await stack.pool.fetchval(
        "SELECT count(*) FROM sandbox_messages WHERE dispatch_id = ANY($1)", [d["id"] for d in before]
    )
    assert sent_after == 2
    sending = await sending_of(stack, headers, sending_id)
    assert sending["status"] == "transmitted"
    assert sending["dispatches_count"] == 2
