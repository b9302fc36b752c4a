"""The documented request examples (shared/spec/examples) replayed, each answer checked field by field."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from tests.api.conftest import Api

EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "spec" / "examples"


def example(name: str) -> Any:
    return orjson.loads((EXAMPLES / name).read_bytes())


def parse(value: str) -> datetime:
    assert value.endswith("Z"), value
    assert len(value) == len("2020-09-15T12:45:08.618Z"), f"not ISO 8601 UTC with milliseconds: {value}"
    return datetime.fromisoformat(value)


def near(value: str, expected: datetime, seconds: float = 15) -> bool:
    return abs((parse(value) - expected).total_seconds()) < seconds


async def post_message(api: Api, headers: dict[str, str], body: Any) -> dict[str, Any]:
    code, answer = await api.call("POST", "/v1/messages/generic", headers, body)
    assert code == 201, answer
    message: dict[str, Any] = answer["message"]
    return message


async def get_sending(api: Api, headers: dict[str, str], sending_id: int) -> dict[str, Any]:
    code, answer = await api.call("GET", f"/v1/messages/generic/sendings/{sending_id}", headers)
    assert code == 200, answer
    sending: dict[str, Any] = answer["sending"]
    return sending


async def test_the_sms_message_with_a_relative_sending_to_an_audience_and_a_member(api: Api) -> None:
    headers = await api.tenant()
    message = await post_message(api, headers, example("create-message-sms-relative.json"))
    assert set(example("response-message.json")["message"]) <= set(message)
    assert {k: message[k] for k in ("name", "service", "shorten_urls", "track_in_shortener", "campaign_id")} == {
        "name": "My message", "service": "generic", "shorten_urls": True, "track_in_shortener": False,
        "campaign_id": None,
    }  # fmt: skip
    [channel] = message["channels"]
    assert channel["type"] == "sms"
    assert channel["sender"] == {"type": "alphanumeric", "value": "Infinity"}
    assert {k: channel["template"][k] for k in ("type", "content", "wrapper_id")} == {
        "type": "plain", "content": {"body": "Hi {{first_name}}!"}, "wrapper_id": None,
    }  # fmt: skip
    assert message["sendings_status"] == "scheduled"
    assert message["sendings_count"] == 1
    latest = message["latest_sending"]
    assert set(example("response-message.json")["message"]["latest_sending"]) <= set(latest)
    assert latest["status"] == "scheduled"
    assert isinstance(latest["audience_id"], int)
    assert (latest["recipients_count"], latest["dispatches_count"], latest["members_count"]) == (1, None, None)
    assert near(latest["scheduled_at"], datetime.now(UTC) + timedelta(minutes=15))
    assert latest["transmitted_at"] is None

    sending = await get_sending(api, headers, latest["id"])
    assert set(example("response-sending.json")["sending"]) <= set(sending)
    assert sending["scheduled_with"] == {"type": "relative", "in": "15 minutes"}
    assert sending["recipients"] == example("response-sending.json")["sending"]["recipients"]
    assert sending["prescheduled"] is False
    assert sending["stats"]["planned"] == 0


async def test_the_push_message_with_an_immediate_sending_to_a_member(api: Api) -> None:
    headers = await api.tenant()
    message = await post_message(api, headers, example("create-message-push-immediate.json"))
    [channel] = message["channels"]
    assert channel["type"] == "push"
    assert channel["template"]["type"] == "push"
    assert channel["template"]["content"] == {
        "subject": "Weekend offers", "body": "Hi {{ first_name }}, new offers are waiting",
        "image_url": "https://cdn.example.com/files/offer.png",
    }  # fmt: skip
    latest = message["latest_sending"]
    assert latest["status"] == "scheduled"
    assert near(latest["scheduled_at"], datetime.now(UTC))
    sending = await get_sending(api, headers, latest["id"])
    assert sending["scheduled_with"] == {"type": "immediate"}
    assert sending["recipients"] == [
        {"member_id": 48356145, "msisdn": None, "email": None, "app_token": None, "properties": {"first_name": "Piotr"}}
    ]


async def sms_message(api: Api, headers: dict[str, str]) -> dict[str, Any]:
    body = copy.deepcopy(example("create-message-sms-relative.json"))
    del body["message"]["sending"]
    return await post_message(api, headers, body)


async def test_a_sending_with_only_an_inline_audience_and_no_schedule_is_a_draft(api: Api) -> None:
    headers = await api.tenant()
    message = await sms_message(api, headers)
    code, answer = await api.call(
        "POST",
        f"/v1/messages/generic/{message['id']}/sendings",
        headers,
        example("create-sending-draft-inline-audience.json"),
    )
    assert code == 201, answer
    sending = answer["sending"]
    assert (sending["status"], sending["draft"], sending["scheduled_at"], sending["scheduled_with"]) == (
        "draft", False, None, None,
    )  # fmt: skip
    stored = await api.pool.fetchval("SELECT conditions FROM audiences WHERE id = $1", sending["audience_id"])
    assert stored == example("create-sending-draft-inline-audience.json")["sending"]["audience"]["conditions"]


async def test_the_full_sending_with_priority_and_channel_preference(api: Api) -> None:
    headers = await api.tenant()
    message = await sms_message(api, headers)
    code, answer = await api.call(
        "POST", f"/v1/messages/generic/{message['id']}/sendings", headers, example("create-sending-full.json")
    )
    assert code == 201, answer
    sending = answer["sending"]
    assert (sending["status"], sending["priority"], sending["channels_preference"]) == ("scheduled", 1, ["sms"])
    assert sending["scheduled_with"] == {"type": "immediate"}
    assert sending["recipients"] == []
    assert isinstance(sending["audience_id"], int)


async def test_a_relative_sending_to_a_referenced_audience_and_recipients(api: Api) -> None:
    headers = await api.tenant()
    body = copy.deepcopy(example("create-message-sms-relative.json"))
    del body["message"]["sending"]
    body["message"]["channels"].append({"type": "email", "template": {"type": "inline", "definition": {
        "type": "email", "content": {"subject": "Hi", "body": "<p>Hi {{ name }}</p>"}}}})  # fmt: skip
    message = await post_message(api, headers, body)
    lc_id = await api.pool.fetchval("SELECT id FROM loyalty_clubs WHERE slug = $1", headers["X-Loyalty-Club-Slug"])
    audience_id = await api.pool.fetchval(
        "INSERT INTO audiences (loyalty_club_id, name, conditions) VALUES ($1, 'All', '[]') RETURNING id", lc_id
    )
    request = copy.deepcopy(example("create-sending-relative-audience-and-recipients.json"))
    request["sending"]["audience"]["id"] = audience_id
    code, answer = await api.call("POST", f"/v1/messages/generic/{message['id']}/sendings", headers, request)
    assert code == 201, answer
    sending = answer["sending"]
    assert sending["audience_id"] == audience_id
    assert near(sending["scheduled_at"], datetime.now(UTC) + timedelta(days=2))
    assert [r["member_id"] for r in sending["recipients"]] == [150, None]
    assert sending["recipients"][1]["email"] == "jan@example.com"
    request["sending"]["audience"]["id"] = audience_id + 1000
    code, answer = await api.call("POST", f"/v1/messages/generic/{message['id']}/sendings", headers, request)
    assert code == 422
    assert answer["details"]["sending"]["audience"]["id"][0]["error"] == "referenced_audience_must_exist"


@pytest.mark.parametrize(
    "schedule", example("schedules.json"), ids=lambda s: f"{s['type']}-{s.get('in', s.get('at', ''))}"
)
async def test_every_documented_schedule(api: Api, schedule: dict[str, Any]) -> None:
    headers = await api.tenant()
    message = await sms_message(api, headers)
    given = {k: v for k, v in schedule.items() if not k.startswith("_")}
    request = {"sending": {"schedule": given, "recipients": [{"msisdn": "4740769126"}]}}
    code, answer = await api.call("POST", f"/v1/messages/generic/{message['id']}/sendings", headers, request)
    if given["type"] == "absolute":  # the documented time is in the past by now
        assert code == 422
        assert answer["details"]["sending"]["schedule"]["at"][0]["error"] == "must_be_in_the_future"
        return
    assert code == 201, answer
    assert answer["sending"]["scheduled_with"] == given
    assert answer["sending"]["prescheduled"] is given.get("prescheduled", False)
    assert answer["sending"]["status"] == "scheduled"


async def test_the_documented_message_update_keeps_the_template_and_changes_the_sender(api: Api) -> None:
    headers = await api.tenant()
    message = await sms_message(api, headers)
    code, answer = await api.call(
        "PUT", f"/v1/messages/generic/{message['id']}", headers, example("update-message.json")
    )
    assert code == 200, answer
    updated = answer["message"]
    assert (updated["name"], updated["shorten_urls"], updated["track_in_shortener"]) == ("My Message", True, True)
    [channel] = updated["channels"]
    assert channel["sender"] == {"type": "alphanumeric", "value": "INFINITY"}
    assert channel["template"] == message["channels"][0]["template"]


async def test_the_documented_unschedule_makes_a_draft_without_audience(api: Api) -> None:
    headers = await api.tenant()
    message = await post_message(api, headers, example("create-message-sms-relative.json"))
    sending_id = message["latest_sending"]["id"]
    code, answer = await api.call(
        "PUT", f"/v1/messages/generic/sendings/{sending_id}", headers, example("update-sending-unschedule.json")
    )
    assert code == 200, answer
    sending = answer["sending"]
    assert (sending["status"], sending["scheduled_at"], sending["audience_id"]) == ("draft", None, None)
    assert len(sending["recipients"]) == 1


async def test_the_documented_422_tree(api: Api) -> None:
    headers = await api.tenant()
    fax = {"type": "fax", "template": {"type": "inline", "definition": {"type": "plain", "content": {"body": "x"}}}}
    body = {"message": {"channels": [fax], "sending": {"schedule": {"type": "relative", "in": "2 fortnights"}}}}
    code, answer = await api.call("POST", "/v1/messages/generic", headers, body)
    assert code == 422
    assert answer == example("error-422.json")
