"""Preparation's pure part: channel choice, merge precedence, one dispatch per recipient, rendering."""

from __future__ import annotations

from shared.domain import SendingId
from shared.preparation.planning import (
    Channel,
    Recipient,
    SendingToPrepare,
    channel_order,
    choose_channel,
    merge_variables,
    plan_dispatches,
)

SMS = Channel.compile("sms", {"body": "Hei {{ name }}{{ missing }}"})
EMAIL = Channel.compile(
    "email", {"subject": "Hi {{ first_name }}", "body": "<p>{{ member.first_name }}</p>"}, "Shop <s@x.no>"
)


def sending(marketing: bool = False) -> SendingToPrepare:
    return SendingToPrepare(
        id=SendingId(7), loyalty_club_id=1, message_id=3, status="preparing", properties={}, channels_preference=None,
        scheduled_at=None, message_name="News", service="transactional", marketing=marketing, shorten_urls=False,
        track_in_shortener=False, audience_conditions=None,
    )  # fmt: skip


def test_channels_follow_the_preference_and_drop_channels_it_leaves_out() -> None:
    assert channel_order(["sms", "email", "push"], None) == ["sms", "email", "push"]
    assert channel_order(["sms", "email", "push"], ["push", "sms"]) == ["push", "sms"]


def test_the_first_channel_with_an_identifier_and_an_enabled_status_wins() -> None:
    member = {"msisdn": "4740769126", "email": "a@b.no", "sms_status": "disabled"}
    assert choose_channel(["sms", "email"], Recipient(properties={}, member_id=1, member=member)) == "email"
    assert choose_channel(["sms", "email"], Recipient(properties={}, msisdn="4740769126")) == "sms"
    assert choose_channel(["push"], Recipient(properties={}, msisdn="4740769126")) is None


def test_a_member_recipient_uses_the_members_identifiers_not_the_inline_ones() -> None:
    recipient = Recipient(properties={}, member_id=1, msisdn="4790000001", member={"msisdn": "4740769126"})
    assert recipient.identifier("sms") == "4740769126"


def test_merge_precedence_is_sending_then_member_then_recipient_with_reserved_names_last() -> None:
    member = {"id": 5, "secret_id": "s", "msisdn": "47",
              "properties": {"first_name": "Piotr", "city": "Oslo", "id": "shadow", "secret_id": "shadow"}}  # fmt: skip
    recipient = Recipient(properties={"city": "Bergen", "sending": "ignored"}, member_id=5, member=member)
    variables = merge_variables({"city": "Default", "promo": "X"}, recipient, 7, "News")
    assert variables["promo"] == "X"
    assert variables["first_name"] == "Piotr"
    assert variables["city"] == "Bergen"
    assert variables["member"]["first_name"] == "Piotr"
    assert variables["member"]["secret_id"] == "s"
    assert variables["member"]["id"] == 5
    assert variables["sending"] == {"id": 7}
    assert variables["message"] == {"name": "News"}


def test_each_recipient_gets_one_rendered_dispatch_and_unusable_ones_are_counted() -> None:
    recipients = [
        Recipient(properties={"name": "Piotr"}, msisdn="4740769126"),
        Recipient(properties={"name": "again"}, msisdn="4740769126"),
        Recipient(properties={"name": "Kari"}, msisdn="4790000001"),
        Recipient(properties={}, email="only@email.no"),
    ]
    plan = plan_dispatches(sending(), [SMS], recipients)
    assert [(r.recipient_key, r.content) for r in plan.rows] == [
        ("msisdn:4740769126", {"body": "Hei Piotr"}),
        ("msisdn:4790000001", {"body": "Hei Kari"}),
    ]
    assert plan.unreachable == 1
    assert all(r.transmission_status == "scheduled" and r.error is None for r in plan.rows)


def test_an_email_dispatch_carries_subject_body_and_from() -> None:
    member = {"email": "piotr@x.no", "properties": {"first_name": "Piotr"}}
    plan = plan_dispatches(sending(), [SMS, EMAIL], [Recipient(properties={}, member_id=3, member=member)])
    [row] = plan.rows
    assert row.type == "email"
    assert row.email == "piotr@x.no"
    assert row.msisdn is None
    assert row.content == {"subject": "Hi Piotr", "body": "<p>Piotr</p>", "from": "Shop <s@x.no>"}


def test_a_render_failure_fails_only_that_dispatch() -> None:
    failing = Channel.compile("sms", {"body": "{{ 1 | divided_by: count }}"})
    recipients = [
        Recipient(properties={"count": 0}, msisdn="4740769126"),
        Recipient(properties={"count": 1}, msisdn="4790000001"),
    ]
    first, second = plan_dispatches(sending(), [failing], recipients).rows
    assert first.transmission_status == "failed"
    assert (first.error or "").startswith("render_failed")
    assert first.content is None
    assert (second.transmission_status, second.content) == ("scheduled", {"body": "1"})


def test_a_marketing_sending_suppresses_members_without_consent_for_the_chosen_channel() -> None:
    # as the preparation reads members: each marketing consent's status as a boolean
    consenting = {"msisdn": "4740769126", "sms_marketing": True, "email_marketing": False}
    refused = {"msisdn": "4790000001", "sms_marketing": False}
    silent = {"msisdn": "4790000002", "email_marketing": True}
    recipients = [
        Recipient(properties={"name": "A"}, member_id=1, member=consenting),
        Recipient(properties={"name": "B"}, member_id=2, member=refused),
        Recipient(properties={"name": "C"}, member_id=3, member=silent),
        Recipient(properties={"name": "D"}, msisdn="4790000003"),  # not a member: no consent to check
        Recipient(properties={"name": "B again"}, member_id=2, member=refused),
    ]
    plan = plan_dispatches(sending(marketing=True), [SMS], recipients)
    assert [r.recipient_key for r in plan.rows] == ["member:1", "msisdn:4790000003"]
    assert (plan.suppressed, plan.unreachable) == (2, 0)
    assert len(plan_dispatches(sending(marketing=False), [SMS], recipients).rows) == 4
