"""Sendings to members, end to end: their own numbers and data, audiences, consent, and the member events that
keep the members table current."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.e2e.conftest import Stack
from tests.e2e.sendings import (
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

from shared.events import (
    Event,
    MemberDeleted,
    MemberUpserted,
)


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
    [((topic, partition), offset)] = (await publish(stack.kafka, [(event, key)])).items()

    async def consumed() -> bool:
        group = {"member.upserted": "api-member-upserts", "member.deleted": "api-member-deletions"}[topic]
        return await committed_past(stack.kafka, group, topic, partition, offset)

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
