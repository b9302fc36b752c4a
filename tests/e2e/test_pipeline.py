"""A sending travels API → scheduler → preparer → transmitter → sandbox → webhook → delivered, for real."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from tests.e2e.conftest import Stack
from tests.infra import eventually

from api.schemas import RELATIVE_SCHEDULE_FORMAT
from shared.events import (
    DeliveryStatusReceived,
    DispatchesPrepared,
    Event,
    MemberDeleted,
    MemberUpserted,
    SendingScheduled,
)

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


async def _publish(kafka: str, events: list[tuple[Event, str]]) -> dict[tuple[str, int], int]:
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


async def _consumed(kafka: str, group: str, topic: str, partition: int, offset: int) -> bool:
    """True once `group` committed past `offset` (its handler's transaction had committed by then)."""
    probe = AIOKafkaConsumer(bootstrap_servers=kafka, group_id=group, enable_auto_commit=False)
    await probe.start()
    try:
        committed = await probe.committed(TopicPartition(topic, partition))
    finally:
        await probe.stop()
    return committed is not None and committed > offset


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
    written = await _publish(stack.kafka, replays)
    groups = {
        "sending.scheduled": "preparer",
        "dispatches.prepared": "transmitter",
        "delivery.status": "delivery-receipts",
    }
    for (topic, partition), offset in written.items():

        async def consumed(t: str = topic, p: int = partition, o: int = offset) -> bool:
            return await _consumed(stack.kafka, groups[t], t, p, o)

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


async def _pause() -> None:
    await asyncio.sleep(0.1)


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def test_member_recipients_get_their_own_number_and_data_and_unusable_ones_are_counted(stack: Stack) -> None:
    headers = stack.new_tenant("members")
    lc_id = await stack.pool.fetchval("SELECT id FROM loyalty_clubs WHERE slug = 'members'")
    await stack.pool.executemany(
        "INSERT INTO members (loyalty_club_id, id, msisdn, properties, sms_status) VALUES ($1, $2, $3, $4, $5)",
        [
            (lc_id, 150, "4740769126", {"first_name": "Piotr"}, "enabled"),
            (lc_id, 151, "4790000001", {"first_name": "Kari"}, "disabled"),
            (lc_id, 152, None, {"first_name": "Ola"}, "enabled"),
        ],
    )
    message = {
        **SMS_MESSAGE,
        "channels": [
            {
                "type": "sms",
                "template": {
                    "type": "inline",
                    "definition": {
                        "type": "plain",
                        "content": {
                            "body": "{{ greeting }} {{ first_name }} ({{ member.id }}) {{ note | default: 'none' }}"
                        },
                    },
                },
            }
        ],
    }
    recipients = [
        {"member_id": 150, "msisdn": "4790000009", "properties": {"note": "vip"}},  # the member's own number wins
        {"member_id": 151},  # sms disabled for this member
        {"member_id": 152},  # no number
        {"member_id": 999},  # not a member of this LC
        {"member_id": 150},  # the same member again: one dispatch
    ]
    sending_id = await post_sending(
        stack,
        headers,
        {"schedule": {"type": "immediate"}, "recipients": recipients, "properties": {"greeting": "Hello", "note": "x"}},
        message,
    )
    sending = await wait_for_status(stack, headers, sending_id, "transmitted", 15)
    [dispatch] = await dispatches_of(stack, headers, sending_id)
    assert dispatch["member_id"] == 150
    assert dispatch["msisdn"] == "4740769126"
    assert dispatch["content"] == {"body": "Hello Piotr (150) vip"}
    assert sending["dispatches_count"] == 1
    assert sending["members_count"] == 1
    assert sending["stats"]["unreachable"] == 3
    assert sending["stats"]["planned"] == 4


async def test_an_audience_sending_reaches_matching_members_once_with_inline_properties_winning(stack: Stack) -> None:
    headers = stack.new_tenant("audience")
    lc_id = await stack.pool.fetchval("SELECT id FROM loyalty_clubs WHERE slug = 'audience'")
    await stack.pool.executemany(
        "INSERT INTO members (loyalty_club_id, id, msisdn, properties, sms_status) VALUES ($1, $2, $3, $4, $5)",
        [
            (lc_id, 1, "4740769126", {"first_name": "Piotr", "city": "Oslo"}, "enabled"),
            (lc_id, 2, "4790000001", {"first_name": "Kari", "city": "oslo"}, "disabled"),
            (lc_id, 3, "4790000002", {"first_name": "Ola", "city": "Bergen"}, "enabled"),
            (lc_id, 4, "4790000003", {"first_name": "Nora", "city": "Oslo"}, "enabled"),
        ],
    )
    message = {
        **SMS_MESSAGE,
        "channels": [{"type": "sms", "template": {"type": "inline", "definition": {
            "type": "plain", "content": {"body": "Hi {{ first_name }}"}}}}],
    }  # fmt: skip
    in_oslo = [{"condition_group": "member_properties", "field": "city", "operator": "match", "value": "OSLO"}]
    sending_id = await post_sending(
        stack,
        headers,
        {
            "schedule": {"type": "immediate"},
            "audience": {"type": "inline", "conditions": in_oslo},
            "recipients": [{"member_id": 1, "properties": {"first_name": "Pete"}}],
        },
        message,
    )
    await wait_for_delivery(stack, headers, sending_id, 15)
    dispatches = await dispatches_of(stack, headers, sending_id)
    assert sorted((d["member_id"], d["msisdn"], d["content"]["body"]) for d in dispatches) == [
        (1, "4740769126", "Hi Pete"),
        (4, "4790000003", "Hi Nora"),
    ]
    sending = await sending_of(stack, headers, sending_id)
    assert (sending["stats"]["planned"], sending["stats"]["unreachable"], sending["members_count"]) == (3, 1, 2)


async def test_a_campaign_sending_skips_members_without_marketing_consent(stack: Stack) -> None:
    headers = stack.new_tenant("consent")
    lc_id = await stack.pool.fetchval("SELECT id FROM loyalty_clubs WHERE slug = 'consent'")
    await stack.pool.executemany(
        "INSERT INTO members (loyalty_club_id, id, msisdn, consents) VALUES ($1, $2, $3, $4)",
        [(lc_id, 1, "4740769126", {"sms_marketing": {"status": True}}), (lc_id, 2, "4790000001", {})],
    )
    recipients = [{"member_id": 1}, {"member_id": 2}, {"msisdn": "4790000002"}]
    status, body = await stack.request(
        "POST", "/v1/messages/campaigns", headers,
        {"message": {**SMS_MESSAGE, "sending": {"schedule": {"type": "immediate"}, "recipients": recipients}}},
    )  # fmt: skip
    assert status == 201, body
    sending_id = body["message"]["latest_sending"]["id"]

    async def transmitted() -> dict[str, Any] | None:
        _, answer = await stack.request("GET", f"/v1/messages/campaigns/sendings/{sending_id}", headers)
        done: dict[str, Any] = answer["sending"]
        return done if done["status"] == "transmitted" else None

    sending = await eventually(transmitted, 15, "the campaign sending transmitted")
    assert (sending["dispatches_count"], sending["stats"]["suppressed"], sending["stats"]["planned"]) == (2, 1, 3)
    _, page = await stack.request("GET", f"/v1/messages/campaigns/sendings/{sending_id}/dispatches", headers)
    assert sorted(d["msisdn"] for d in page["dispatches"]) == ["4740769126", "4790000002"]


async def _publish_and_wait(stack: Stack, event: Event) -> None:
    """Publish `event` keyed by its member and wait until the api's members consumer has committed it."""
    key = str(getattr(event, "member_id"))  # noqa: B009 - member events carry member_id
    [((topic, partition), offset)] = (await _publish(stack.kafka, [(event, key)])).items()

    async def consumed() -> bool:
        group = {"member.upserted": "api-member-upserts", "member.deleted": "api-member-deletions"}[topic]
        return await _consumed(stack.kafka, group, topic, partition, offset)

    await eventually(consumed, 30, f"the api to consume {topic}[{partition}]@{offset}", interval=0.2)


async def test_member_events_keep_the_newest_version_and_a_deletion_wipes_the_members_dispatches(
    stack: Stack,
) -> None:
    headers = stack.new_tenant("members-feed")
    t0 = datetime.now(UTC)

    def upserted(at: datetime, first_name: str) -> MemberUpserted:
        return MemberUpserted(loyalty_club="members-feed", member_id=77, msisdn="4740769126",
                              properties={"first_name": first_name}, updated_at=at)  # fmt: skip

    async def member() -> Any:
        return await stack.pool.fetchrow("SELECT msisdn, properties, deleted_at FROM members WHERE id = 77")

    await _publish_and_wait(stack, upserted(t0 + timedelta(seconds=2), "Newer"))
    await _publish_and_wait(stack, upserted(t0 + timedelta(seconds=1), "Older"))
    assert (await member())["properties"] == {"first_name": "Newer"}

    sending_id = await post_sending(
        stack, headers, {"schedule": {"type": "immediate"}, "recipients": [{"member_id": 77}]}
    )
    [dispatch] = await wait_for_delivery(stack, headers, sending_id, 15)
    assert dispatch["msisdn"] == "4740769126"

    await _publish_and_wait(
        stack, MemberDeleted(loyalty_club="members-feed", member_id=77, deleted_at=t0 + timedelta(seconds=3))
    )
    gone = await member()
    assert (gone["msisdn"], gone["properties"], gone["deleted_at"] is not None) == (None, {}, True)
    [wiped] = await dispatches_of(stack, headers, sending_id)
    assert (wiped["msisdn"], wiped["content"], wiped["cleaned_at"] is not None) == (None, None, True)
    assert wiped["member_id"] == 77

    await _publish_and_wait(stack, upserted(t0 + timedelta(seconds=2, milliseconds=500), "Late"))
    assert (await member())["deleted_at"] is not None
