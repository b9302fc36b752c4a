"""The documented request examples (shared/spec/examples) replayed, each answer checked field by field."""

from __future__ import annotations

import copy
import importlib.resources
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from tests.integration.api.conftest import Api
from tests.paths import SPEC

EXAMPLES = SPEC / "examples"


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


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """The non-null alternative of an `anyOf [X, null]` schema, else the schema itself."""
    alternatives = [s for s in schema.get("anyOf", [schema]) if s.get("type") != "null"]
    assert len(alternatives) == 1, schema
    alternative: dict[str, Any] = alternatives[0]
    return alternative


async def openapi(api: Api) -> dict[str, Any]:
    code, document = await api.call("GET", "/openapi.json", {})
    assert code == 200
    return dict(document)


async def test_the_openapi_document_states_the_enums_formats_and_grammar_the_server_enforces(api: Api) -> None:
    schemas = (await openapi(api))["components"]["schemas"]
    template_types = ["plain", "email", "bee_email", "push", "generic"]
    for model in ("TemplateDefinition", "TemplatePayload", "Template", "ChannelTemplate"):
        assert schemas[model]["properties"]["type"]["enum"] == template_types, model
    pattern = re.compile(schemas["Sender"]["properties"]["value"]["pattern"])
    assert all(pattern.match(value) for value in ("Infinity", "INFINITY", "+4740769126", "004740769126"))
    assert not any(pattern.match(value) for value in ("I", "Twelve chars", "Infinity!"))
    assert nullable(schemas["Schedule"]["properties"]["at"]) == {"type": "string", "format": "date-time"}
    assert re.match(nullable(schemas["Schedule"]["properties"]["in"])["pattern"], "15 minutes")
    assert nullable(schemas["ChannelPayload"]["properties"]["from_email"])["format"] == "email"
    assert nullable(schemas["RecipientPayload"]["properties"]["email"])["format"] == "email"
    for model in ("AudiencePayload", "AudienceBody"):
        conditions = nullable(schemas[model]["properties"]["conditions"])
        assert conditions["items"] == {"$ref": "#/components/schemas/AudienceCondition"}, model
    leaf = schemas["AudienceLeafCondition"]
    assert leaf["properties"]["condition_group"]["enum"] == ["member_properties", "member"]
    assert "starts_with" in leaf["properties"]["operator"]["enum"]
    assert set(leaf["required"]) == {"condition_group", "field", "operator"}
    assert schemas["AudienceOrGroup"]["properties"]["conditions"]["items"] == {
        "$ref": "#/components/schemas/AudienceCondition"
    }


async def test_every_v1_operation_declares_its_service_names_token_and_tenant_headers(api: Api) -> None:
    document = await openapi(api)
    assert document["components"]["securitySchemes"] == {
        "ClientToken": {"type": "apiKey", "in": "header", "name": "X-Client-Authorization",
                        "description": "The API client's token"},
        "BearerToken": {"type": "http", "scheme": "bearer", "description": "The same token as `Authorization: Bearer`"},
    }  # fmt: skip
    services = ["generic", "campaigns", "campaigns_testing", "tenants", "tenants_testing", "tem_documents",
                "tem_documents_reminders"]  # fmt: skip
    operations = [(m, p, op) for p, ops in document["paths"].items() for m, op in ops.items() if p.startswith("/v1/")]
    assert len(operations) == 36
    for method, path, operation in operations:
        assert operation["security"] == [{"ClientToken": []}, {"BearerToken": []}], (method, path)
        parameters = {(p["in"], p["name"]): p for p in operation["parameters"]}
        for header in ("X-User-Agent", "X-Product-Name", "X-Loyalty-Club-Slug"):
            assert parameters[("header", header)]["required"] is True, (method, path, header)
        if "{service_name}" in path:
            assert parameters[("path", "service_name")]["schema"]["enum"] == services, (method, path)
        assert (("header", "Idempotency-Key") in parameters) is (method == "post"), (method, path)


async def test_the_openapi_document_carries_the_documented_examples(api: Api) -> None:
    paths = (await openapi(api))["paths"]
    create = paths["/v1/messages/{service_name}"]["post"]
    requests = create["requestBody"]["content"]["application/json"]["examples"]
    assert requests["create-message-sms-relative"]["value"] == example("create-message-sms-relative.json")
    assert requests["create-message-push-immediate"]["value"] == example("create-message-push-immediate.json")
    answers = create["responses"]["201"]["content"]["application/json"]["examples"]
    assert answers["response-message"]["value"] == example("response-message.json")
    invalid = create["responses"]["422"]["content"]["application/json"]["examples"]
    assert invalid["error-422"]["value"] == example("error-422.json")
    sendings = paths["/v1/messages/{service_name}/{message_id}/sendings"]["post"]
    assert set(sendings["requestBody"]["content"]["application/json"]["examples"]) == {
        "create-sending-full", "create-sending-draft-inline-audience", "create-sending-relative-audience-and-recipients"
    }  # fmt: skip
    update = paths["/v1/messages/{service_name}/sendings/{sending_id}"]["put"]
    unschedule = update["requestBody"]["content"]["application/json"]["examples"]["update-sending-unschedule"]
    assert unschedule["value"] == example("update-sending-unschedule.json")
    settings = paths["/v1/messages/settings"]["get"]["responses"]["200"]["content"]["application/json"]["examples"]
    assert settings["response-settings"]["value"] == example("response-settings.json")
    for copied in (importlib.resources.files("api") / "examples").iterdir():  # the package's copies, kept current
        assert orjson.loads(copied.read_bytes()) == example(copied.name), copied.name
