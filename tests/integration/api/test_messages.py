"""Messages of spec §2.1: list, update, duplicate, delete, overview."""

from __future__ import annotations

from typing import Any

import pytest
from tests.integration.api.conftest import Api

from api.config import ApiSettings
from api.main import create_app


def sms(body: str = "Hi {{ first_name }}", sender: str | None = None) -> dict[str, Any]:
    channel: dict[str, Any] = {
        "type": "sms", "template": {"type": "inline", "definition": {"type": "plain", "content": {"body": body}}},
    }  # fmt: skip
    if sender:
        channel["sender"] = {"type": "alphanumeric", "value": sender}
    return channel


async def create(api: Api, headers: dict[str, str], name: str, **extra: Any) -> dict[str, Any]:
    code, body = await api.call("POST", "/v1/messages/generic", headers, {"message": {"name": name, **extra}})
    assert code == 201, body
    message: dict[str, Any] = body["message"]
    return message


async def test_messages_are_listed_with_filters_sorting_and_pagination(api: Api) -> None:
    headers = await api.tenant()
    first = await create(api, headers, "Bravo", channels=[sms("Weekly news")])
    later = {"schedule": {"type": "relative", "in": "1 day"}, "recipients": [{"msisdn": "4740769126"}]}
    second = await create(api, headers, "alpha", channels=[sms("Flash sale")], sending=later)
    third = await create(api, headers, "Charlie", channels=[sms("Hello")], sending={"recipients": later["recipients"]})

    code, page = await api.call("GET", "/v1/messages/generic?per_page=2", headers)
    assert code == 200
    assert [m["id"] for m in page["messages"]] == [first["id"], second["id"]]
    assert page["pagination_info"] == {
        "total_count": 3, "per_page": 2, "total_pages": 2, "current_page": 1, "next_page": 2, "prev_page": None,
        "is_first_page": True, "is_last_page": False, "is_out_of_range": False,
    }  # fmt: skip
    code, page = await api.call("GET", "/v1/messages/generic?per_page=2&page_no=2", headers)
    assert [m["id"] for m in page["messages"]] == [third["id"]]
    code, page = await api.call("GET", "/v1/messages/generic?sort_by=name&sort_direction=desc", headers)
    assert [m["name"] for m in page["messages"]] == ["Charlie", "Bravo", "alpha"]
    code, page = await api.call("GET", "/v1/messages/generic?sendings_status=scheduled", headers)
    assert [m["id"] for m in page["messages"]] == [second["id"]]
    code, page = await api.call("GET", "/v1/messages/generic?sendings_status=draft", headers)
    assert [m["id"] for m in page["messages"]] == [first["id"], third["id"]]
    code, page = await api.call("GET", "/v1/messages/generic?search=SALE", headers)
    assert [m["id"] for m in page["messages"]] == [second["id"]]
    code, page = await api.call("GET", "/v1/messages/generic?search=%25", headers)
    assert page["messages"] == []
    code, page = await api.call("GET", "/v1/messages/generic?sort_by=colour", headers)
    assert code == 422
    assert page["details"]["sort_by"][0]["error"] == "inclusion"


async def test_another_lc_never_sees_the_messages(api: Api) -> None:
    owner, other = await api.tenant(), await api.tenant()
    message = await create(api, owner, "Private", channels=[sms()])
    code, page = await api.call("GET", "/v1/messages/generic", other)
    assert code == 200
    assert page["messages"] == []
    for method, suffix in (("GET", ""), ("PUT", ""), ("DELETE", ""), ("PUT", "/duplicate"), ("GET", "/sendings")):
        body = {"message": {"name": "x"}} if method == "PUT" and not suffix else None
        code, answer = await api.call(method, f"/v1/messages/generic/{message['id']}{suffix}", other, body)
        assert (code, answer) == (404, {"error": "Message not found"}), (method, suffix)


async def test_an_update_changes_what_is_given_clears_nulls_and_replaces_channels_by_type(api: Api) -> None:
    headers = await api.tenant()
    message = await create(api, headers, "Before", channels=[sms("Old", sender="Shop")], shorten_urls=False)
    channel_id = message["channels"][0]["id"]
    code, body = await api.call("PUT", f"/v1/messages/campaigns/{message['id']}", headers, {"message": {"name": "x"}})
    assert code == 404  # only reachable under the service it was created in
    code, body = await api.call(
        "PUT", f"/v1/messages/generic/{message['id']}", headers,
        {"message": {"name": "After", "channels": [sms("New {{ x }}", sender="Store")]}},
    )  # fmt: skip
    assert code == 200, body
    updated = body["message"]
    assert updated["name"] == "After"
    assert updated["shorten_urls"] is False
    [channel] = updated["channels"]
    assert channel["id"] == channel_id
    assert channel["sender"] == {"type": "alphanumeric", "value": "Store"}
    assert channel["template"]["content"] == {"body": "New {{ x }}"}
    code, body = await api.call("PUT", f"/v1/messages/generic/{message['id']}", headers, {"message": {"name": None}})
    assert code == 422
    assert body["details"]["message"]["name"][0]["error"] == "presence"
    code, body = await api.call(
        "PUT", f"/v1/messages/generic/{message['id']}", headers, {"message": {"id": 5, "sendings_count": 9}}
    )
    assert code == 422
    assert {k: v[0]["error"] for k, v in body["details"]["message"].items()} == {
        "id": "unknown_attribute", "sendings_count": "unknown_attribute",
    }  # fmt: skip


async def test_a_duplicate_copies_name_flags_and_channels_but_no_sendings(api: Api) -> None:
    headers = await api.tenant()
    message = await create(api, headers, "Original", channels=[sms("Body")], track_in_shortener=True,
                           sending={"recipients": [{"msisdn": "4740769126"}]})  # fmt: skip
    code, body = await api.call("PUT", f"/v1/messages/generic/{message['id']}/duplicate", headers)
    assert code == 201, body
    copy = body["message"]
    assert copy["id"] != message["id"]
    assert copy["name"] == "Original (copy)"
    assert copy["track_in_shortener"] is True
    assert copy["sendings_count"] == 0
    assert copy["latest_sending"] is None
    assert [c["template"]["content"] for c in copy["channels"]] == [{"body": "Body"}]
    assert copy["channels"][0]["template"]["id"] != message["channels"][0]["template"]["id"]


async def test_deleted_messages_are_listed_as_archived(api: Api) -> None:
    headers = await api.tenant()
    kept = await create(api, headers, "Kept", channels=[sms()])
    gone = await create(api, headers, "Gone", channels=[sms()])
    assert (await api.call("DELETE", f"/v1/messages/generic/{gone['id']}", headers))[0] == 200
    code, page = await api.call("GET", "/v1/messages/generic", headers)
    assert [m["id"] for m in page["messages"]] == [kept["id"]]
    code, page = await api.call("GET", "/v1/messages/generic?archived=true", headers)
    assert code == 200
    assert [m["id"] for m in page["messages"]] == [gone["id"]]


async def test_the_overview_counts_messages_by_status_and_dispatches_by_outcome(api: Api) -> None:
    headers = await api.tenant()
    await create(api, headers, "Draft", channels=[sms()])
    now = {"schedule": {"type": "immediate"}, "recipients": [{"msisdn": "4740769126"}]}
    scheduled = await create(api, headers, "Sent", channels=[sms()], sending=now)
    sending_id = scheduled["latest_sending"]["id"]
    lc_id = await api.pool.fetchval("SELECT loyalty_club_id FROM sendings WHERE id = $1", sending_id)
    await api.pool.execute("UPDATE sendings SET status = 'transmitted' WHERE id = $1", sending_id)
    await api.pool.executemany(
        "INSERT INTO dispatches (sending_id, loyalty_club_id, recipient_key, type, transmission_status, "
        "delivery_status) VALUES ($1, $2, $3, 'sms', $4, $5)",
        [(sending_id, lc_id, "a", "transmitted", "delivered"), (sending_id, lc_id, "b", "failed", "pending")],
    )
    code, body = await api.call("GET", "/v1/messages/generic/overview", headers)
    assert code == 200, body
    assert body == {"overview": {
        "messages": {"draft": 1, "scheduled": 0, "finished": 1, "total": 2},
        "dispatches": {"total": 2, "transmission_status": {"scheduled": 0, "transmitted": 1, "failed": 1},
                       "delivery_status": {"pending": 1, "delivered": 1, "failed": 0}},
    }}  # fmt: skip


async def test_sending_members_lists_each_member_reached_once(api: Api) -> None:
    headers = await api.tenant()
    message = await create(api, headers, "M", channels=[sms()], sending={"recipients": [{"member_id": 1}]})
    sending_id = message["latest_sending"]["id"]
    lc_id = await api.pool.fetchval("SELECT loyalty_club_id FROM sendings WHERE id = $1", sending_id)
    await api.pool.executemany(
        "INSERT INTO dispatches (sending_id, loyalty_club_id, recipient_key, type, member_id, msisdn, app_token) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7)",
        [(sending_id, lc_id, "member:1", "sms", 1, "4740769126", None),
         (sending_id, lc_id, "member:2", "push", 2, None, "token-2"),
         (sending_id, lc_id, "msisdn:4790000001", "sms", None, "4790000001", None)],
    )  # fmt: skip
    code, body = await api.call("GET", f"/v1/messages/generic/sendings/{sending_id}/dispatches/members", headers)
    assert code == 200, body
    assert body["dispatch_members"] == [
        {"id": 1, "type": "sms", "msisdn": "4740769126", "email": None, "app_tokens": []},
        {"id": 2, "type": "push", "msisdn": None, "email": None, "app_tokens": ["token-2"]},
    ]
    assert body["pagination_info"]["total_count"] == 2
    code, body = await api.call(
        "GET",
        f"/v1/messages/generic/sendings/{sending_id}/dispatches?member_id=2&transmission_status=scheduled",
        headers,
    )
    assert [d["app_token"] for d in body["dispatches"]] == ["token-2"]


async def test_a_reference_template_is_copied_into_the_message(api: Api) -> None:
    headers = await api.tenant()
    stored = {"template": {"name": "Greeting", "type": "plain", "content": {"body": "Hello {{ x }}"}}}
    code, body = await api.call("POST", "/v1/messages/templates", headers, stored)
    assert code == 201, body
    template_id = body["template"]["id"]
    by_reference = {"type": "sms", "template": {"type": "reference", "id": template_id}}
    message = await create(api, headers, "Ref", channels=[by_reference])
    [channel] = message["channels"]
    assert (channel["template"]["type"], channel["template"]["content"]) == ("plain", {"body": "Hello {{ x }}"})
    assert channel["template"]["id"] != template_id
    code, _ = await api.call("PUT", f"/v1/messages/templates/{template_id}", headers,
                             {"template": {"content": {"body": "Changed"}}})  # fmt: skip
    assert code == 200
    code, shown = await api.call("GET", f"/v1/messages/generic/{message['id']}", headers)
    assert shown["message"]["channels"][0]["template"]["content"] == {"body": "Hello {{ x }}"}
    other_lc = await api.tenant()
    code, body = await api.call(
        "POST", "/v1/messages/generic", other_lc, {"message": {"name": "O", "channels": [by_reference]}}
    )
    assert code == 422
    assert body["details"]["message"]["channels"]["0"]["template"]["id"][0]["error"] == "template_does_not_exist"


# Every enum filter of every list endpoint, with the values spec §2 allows: (path, parameter, allowed).
ENUM_FILTERS = [
    ("/v1/messages/generic", "sendings_status", ["draft", "scheduled", "finished"]),
    ("/v1/messages/generic", "sort_by", ["created_at", "updated_at", "name", "id"]),
    ("/v1/messages/generic", "sort_direction", ["asc", "desc"]),
    ("/v1/messages/generic", "null_position", ["first", "last"]),
    ("/v1/messages/generic/sendings/1/dispatches", "transmission_status", ["scheduled", "transmitted", "failed"]),
    ("/v1/messages/generic/sendings/1/dispatches", "delivery_status", ["pending", "delivered", "failed"]),
    ("/v1/messages/templates", "type", ["plain", "email", "bee_email", "push", "generic"]),
    ("/v1/messages_history?member_id=7", "type[]", ["sms", "email", "push"]),
]


@pytest.mark.parametrize(("path", "parameter", "allowed"), ENUM_FILTERS, ids=[f[1] for f in ENUM_FILTERS])
async def test_an_unknown_value_of_an_enum_filter_is_refused_naming_the_field_and_the_allowed_values(
    api: Api, path: str, parameter: str, allowed: list[str]
) -> None:
    headers = await api.tenant()
    separator = "&" if "?" in path else "?"
    code, body = await api.call("GET", f"{path}{separator}{parameter}={allowed[0]}", headers)
    assert code in {200, 404}, body  # an allowed value passes validation (the sending of the path may not exist)
    code, body = await api.call("GET", f"{path}{separator}{parameter}={allowed[0]}&{parameter}=emial", headers)
    assert (code, body) == (422, {"error": "Invalid parameters", "details": {parameter: [{
        "value": "emial", "error": "inclusion", "options": {"in": allowed}, "message": "is not included in the list",
    }]}})  # fmt: skip


def test_every_enum_query_parameter_of_the_api_is_among_the_tested_filters() -> None:
    document = create_app(ApiSettings()).openapi()
    declared = set()
    for path, operations in document["paths"].items():
        for parameter in operations.get("get", {}).get("parameters", []):
            schema = parameter["schema"].get("anyOf", [parameter["schema"]])[0]
            if parameter["in"] == "query" and "enum" in schema.get("items", schema):
                declared.add((path, parameter["name"]))
    assert {name for _, name in declared} == {parameter for _, parameter, _ in ENUM_FILTERS}
    assert len(declared) == len(ENUM_FILTERS)


async def test_only_the_services_of_the_spec_are_service_names(api: Api) -> None:
    headers = await api.tenant()
    for path in ("/v1/messages/settings", "/v1/messages/services", "/v1/messages/bee_templates"):
        async with api.http.post(api.url + path, headers=headers) as response:
            assert (response.status, response.headers["Allow"]) == (405, "GET"), path
    code, body = await api.call("GET", "/v1/messages/fax", headers)
    assert code == 404, body
    code, body = await api.call("POST", "/v1/messages/fax", headers, {"message": {"name": "x", "channels": [sms()]}})
    assert code == 404, body
