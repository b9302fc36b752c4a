"""LC-level endpoints: services, merge properties, settings, history, sender identities, audiences."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from tests.integration.api.conftest import Api

from shared.preparation.grammar import OPERATORS

SMS = {"type": "sms", "template": {"type": "inline", "definition": {"type": "plain", "content": {"body": "Hi"}}}}


async def lc_id_of(api: Api, headers: dict[str, str]) -> int:
    lc_id: int = await api.pool.fetchval("SELECT id FROM loyalty_clubs WHERE slug = $1", headers["X-Loyalty-Club-Slug"])
    return lc_id


async def test_services_are_those_the_token_may_use(api: Api) -> None:
    headers = await api.tenant("Messages:Api:Messages:UseService:Generic", "Messages:Api:Messages:UseService:Campaigns")
    code, body = await api.call("GET", "/v1/messages/services", headers)
    assert code == 200
    assert body == {"services": [{"name": "generic", "marketing": False}, {"name": "campaigns", "marketing": True}]}


async def test_merge_properties_list_member_fields_seen_properties_and_reserved_names(api: Api) -> None:
    headers = await api.tenant()
    lc_id = await lc_id_of(api, headers)
    await api.pool.execute(
        "INSERT INTO members (loyalty_club_id, id, properties) VALUES ($1, 1, $2), ($1, 2, $3)",
        lc_id, {"first_name": "Piotr", "city": "Oslo"}, {"first_name": "Kari", "tier": 2},
    )  # fmt: skip
    code, body = await api.call("GET", "/v1/messages/merge_properties", headers)
    assert code == 200
    by_source: dict[str, list[str]] = {}
    for item in body["merge_properties"]:
        by_source.setdefault(item["source"], []).append(item["name"])
    assert by_source["member_properties"] == ["city", "first_name", "tier"]
    assert by_source["reserved"] == ["member.id", "member.secret_id", "sending.id", "message.name"]
    assert "msisdn" in by_source["member"]


async def test_settings_show_the_channel_defaults_and_null_for_a_channel_not_configured(api: Api) -> None:
    headers = await api.tenant()
    await api.pool.execute(
        "UPDATE loyalty_clubs SET settings = jsonb_set(settings, '{channels,push}', 'null') WHERE id = $1",
        await lc_id_of(api, headers),
    )
    code, body = await api.call("GET", "/v1/messages/settings", headers)
    assert code == 200
    channels = body["settings"]["channels"]
    assert channels["push"] is None
    assert channels["sms"]["sender_type"] == "alphanumeric"
    assert set(channels["email"]) == {"from_name", "from_email"}
    code, body = await api.call("POST", "/v1/messages/generic", headers, {"message": {"name": "x", "channels": [
        {**SMS, "type": "push"}]}})  # fmt: skip
    assert code == 422
    assert body["details"]["message"]["channels"]["0"]["type"][0]["error"] == "not_configured"


async def test_history_shows_a_members_messages_newest_first_and_no_content_once_cleaned(api: Api) -> None:
    headers = await api.tenant()
    code, created = await api.call("POST", "/v1/messages/generic", headers, {"message": {"name": "M", "channels": [SMS],
        "sending": {"recipients": [{"member_id": 7}]}}})  # fmt: skip
    assert code == 201
    sending_id = created["message"]["latest_sending"]["id"]
    lc_id = await lc_id_of(api, headers)
    now = datetime.now(UTC)
    await api.pool.executemany(
        "INSERT INTO dispatches (sending_id, loyalty_club_id, recipient_key, type, member_id, msisdn, email, content, "
        "created_at, cleaned_at) VALUES ($1, $2, $3, $4, 7, $5, $6, $7, $8, $9)",
        [(sending_id, lc_id, "a", "sms", "4740769126", None, {"body": "Old"}, now - timedelta(days=2), None),
         (sending_id, lc_id, "b", "email", None, "p@x.no", {"subject": "S", "body": "<p>New</p>"}, now, None),
         (sending_id, lc_id, "c", "sms", "4740769126", None, {"body": "Wiped"}, now - timedelta(days=1), now)],
    )  # fmt: skip
    code, body = await api.call("GET", "/v1/messages_history?member_id=7", headers)
    assert code == 200, body
    assert [(m["type"], m["content"]) for m in body["messages"]] == [
        ("email", "<p>New</p>"),
        ("sms", None),
        ("sms", "Old"),
    ]
    assert body["messages"][0]["subject"] == "S"
    assert body["messages"][2]["sender"] == created["message"]["channels"][0]["sender"]["value"]
    code, body = await api.call("GET", "/v1/messages_history?member_id=7&type[]=email", headers)
    assert [m["type"] for m in body["messages"]] == ["email"]
    code, body = await api.call("GET", "/v1/messages_history", headers)
    assert code == 422
    assert body["details"]["member_id"][0]["error"] == "presence"
    code, body = await api.call("GET", "/v1/messages_history?member_id=7", await api.tenant())
    assert body["messages"] == []


async def test_once_an_lc_has_sender_identities_an_sms_sender_must_be_one_of_them(api: Api) -> None:
    headers = await api.tenant()
    channel = {**SMS, "sender": {"type": "alphanumeric", "value": "Rogue"}}
    assert (await api.call("POST", "/v1/messages/generic", headers, {"message": {"name": "a", "channels": [channel]}}))[
        0
    ] == 201
    code, body = await api.call("POST", "/v1/messages/sender_identities", headers,
                                {"sender_identity": {"type": "alphanumeric", "value": "Shop"}})  # fmt: skip
    assert code == 201
    identity = body["sender_identity"]
    assert (identity["type"], identity["value"]) == ("alphanumeric", "Shop")
    code, body = await api.call(
        "POST", "/v1/messages/generic", headers, {"message": {"name": "b", "channels": [channel]}}
    )
    assert code == 422
    assert body["details"]["message"]["channels"]["0"]["sender"]["value"][0] == {
        "value": "Rogue", "error": "inclusion", "options": {"in": ["Shop"]},
        "message": "is not an approved sender identity of this LC",
    }  # fmt: skip
    shop = {**SMS, "sender": {"type": "alphanumeric", "value": "Shop"}}
    assert (await api.call("POST", "/v1/messages/generic", headers, {"message": {"name": "c", "channels": [shop]}}))[
        0
    ] == 201
    code, body = await api.call("POST", "/v1/messages/sender_identities", headers,
                                {"sender_identity": {"type": "alphanumeric", "value": "Shop"}})  # fmt: skip
    assert code == 422
    code, body = await api.call("POST", "/v1/messages/sender_identities", headers,
                                {"sender_identity": {"type": "international", "value": "12345"}})  # fmt: skip
    assert body["details"]["sender_identity"]["value"][0]["error"] == "invalid_msisdn"
    code, body = await api.call("DELETE", f"/v1/messages/sender_identities/{identity['id']}", headers)
    assert code == 200
    code, body = await api.call("GET", "/v1/messages/sender_identities", headers)
    assert body["sender_identities"] == []


def condition(operator: str) -> dict[str, object]:
    value: object = {"in": ["a", "b"], "any": ["a"], "all": ["a"], "gt": 3, "gte": "2020-01-01", "lt": 1.5,
                     "lte": "2020-01-01T00:00:00Z"}.get(operator, "Piotr")  # fmt: skip
    found: dict[str, object] = {"condition_group": "member_properties", "field": "a.b", "operator": operator}
    if operator not in ("exists", "not_exists"):
        found["value"] = value
    return found


@pytest.mark.parametrize("operator", OPERATORS)
async def test_every_operator_of_the_grammar_is_accepted(api: Api, operator: str) -> None:
    code, body = await api.call("POST", "/v1/audiences", await api.tenant(),
                                {"audience": {"name": operator, "conditions": [condition(operator)]}})  # fmt: skip
    assert code == 201, body
    assert body["audience"]["conditions"] == [condition(operator)]


async def test_audiences_refuse_unknown_operators_and_wrong_values_with_the_tree(api: Api) -> None:
    headers = await api.tenant()
    conditions = [
        {"condition_group": "member_properties", "field": "x", "operator": "like", "value": "a"},
        {"operator": "or", "conditions": [condition("match"),
         {"condition_group": "member", "field": "shoe_size", "operator": "in", "value": "a"}]},
    ]  # fmt: skip
    code, body = await api.call(
        "POST", "/v1/audiences", headers, {"audience": {"name": "Bad", "conditions": conditions}}
    )
    assert code == 422
    tree = body["details"]["audience"]["conditions"]
    assert tree["0"]["operator"][0]["error"] == "inclusion"
    assert tree["1"]["conditions"]["1"]["field"][0]["error"] == "inclusion"
    assert tree["1"]["conditions"]["1"]["value"][0]["error"] == "must_be_an_array"


async def test_audiences_round_trip_and_one_in_use_cannot_be_deleted(api: Api) -> None:
    headers = await api.tenant()
    code, body = await api.call(
        "POST", "/v1/audiences", headers, {"audience": {"name": "A", "conditions": [condition("match")]}}
    )
    assert code == 201
    audience_id = body["audience"]["id"]
    code, body = await api.call("PUT", f"/v1/audiences/{audience_id}", headers, {"audience": {"name": "B"}})
    assert (code, body["audience"]["name"], body["audience"]["conditions"]) == (200, "B", [condition("match")])
    code, page = await api.call("GET", "/v1/audiences", headers)
    assert [a["id"] for a in page["audiences"]] == [audience_id]
    sending = {"schedule": {"type": "relative", "in": "1 day"}, "audience": {"type": "reference", "id": audience_id}}
    code, created = await api.call(
        "POST", "/v1/messages/generic", headers, {"message": {"name": "M", "channels": [SMS], "sending": sending}}
    )
    assert code == 201, created
    code, body = await api.call("DELETE", f"/v1/audiences/{audience_id}", headers)
    assert code == 405
    await api.call("PUT", f"/v1/messages/generic/sendings/{created['message']['latest_sending']['id']}/cancel", headers)
    assert (await api.call("DELETE", f"/v1/audiences/{audience_id}", headers))[0] == 200
    assert (await api.call("GET", f"/v1/audiences/{audience_id}", headers))[0] == 404
