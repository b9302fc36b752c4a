"""Bulk operations (spec §2.4): all or nothing."""

from __future__ import annotations

from typing import Any

from tests.integration.api.conftest import Api

SMS = {"type": "sms", "template": {"type": "inline", "definition": {"type": "plain", "content": {"body": "Hi"}}}}
GENERIC = {"service": "generic"}


def create_message(name: str) -> dict[str, Any]:
    return {
        "type": "create",
        "entity": "message",
        "params": GENERIC,
        "payload": {"message": {"name": name, "channels": [SMS]}},
    }


async def names(api: Api, headers: dict[str, str]) -> list[str]:
    code, page = await api.call("GET", "/v1/messages/generic", headers)
    assert code == 200
    return [m["name"] for m in page["messages"]]


async def test_operations_that_all_succeed_are_answered_in_order_and_kept(api: Api) -> None:
    headers = await api.tenant()
    code, created = await api.call(
        "POST", "/v1/messages/generic", headers, {"message": {"name": "Old", "channels": [SMS]}}
    )
    assert code == 201
    old_id = created["message"]["id"]
    rename = {"message": {"name": "Renamed"}}
    tomorrow = {"sending": {"schedule": {"type": "relative", "in": "1 day"}, "recipients": [{"msisdn": "4740769126"}]}}
    operations = [
        create_message("First"),
        {"type": "update", "entity": "message", "params": {**GENERIC, "id": old_id}, "payload": rename},
        {"type": "create", "entity": "sending", "params": {**GENERIC, "message_id": old_id}, "payload": tomorrow},
    ]
    code, body = await api.call("POST", "/v1/messages/bulks", headers, {"operations": operations})
    assert code == 200, body
    assert [r["response"]["status"] for r in body["results"]] == [201, 200, 201]
    assert [{k: r[k] for k in ("type", "entity", "params", "payload")} for r in body["results"]] == operations
    assert body["results"][1]["response"]["body"]["message"]["name"] == "Renamed"
    assert body["results"][2]["response"]["body"]["sending"]["status"] == "scheduled"
    assert sorted(await names(api, headers)) == ["First", "Renamed"]


async def test_the_first_failure_rolls_everything_back_and_stops(api: Api) -> None:
    headers = await api.tenant()
    operations = [
        create_message("Kept?"),
        {
            "type": "update",
            "entity": "message",
            "params": {**GENERIC, "id": 999_999},
            "payload": {"message": {"name": "x"}},
        },
        create_message("Never run"),
    ]
    code, body = await api.call("POST", "/v1/messages/bulks", headers, {"operations": operations})
    assert code == 470
    assert [r["response"]["status"] for r in body["results"]] == [201, 404]
    assert body["results"][1]["response"]["body"] == {"error": "Message not found"}
    assert await names(api, headers) == []


async def test_an_invalid_payload_inside_a_bulk_answers_with_its_422_tree(api: Api) -> None:
    headers = await api.tenant()
    bad = {"type": "create", "entity": "message", "params": GENERIC, "payload": {"message": {"channels": [SMS]}}}
    code, body = await api.call("POST", "/v1/messages/bulks", headers, {"operations": [bad]})
    assert code == 470
    [result] = body["results"]
    assert result["response"]["status"] == 422
    assert result["response"]["body"]["details"]["message"]["name"][0]["error"] == "presence"


async def test_each_operation_needs_its_own_permit(api: Api) -> None:
    headers = await api.tenant("Messages:Api:Bulks:Process", "Messages:Api:Messages:UseService:Generic")
    code, body = await api.call("POST", "/v1/messages/bulks", headers, {"operations": [create_message("No")]})
    assert code == 470
    assert body["results"][0]["response"] == {
        "status": 403,
        "body": {"error": "Missing permit Messages:Api:Messages:Create"},
    }


async def test_a_malformed_envelope_is_a_422(api: Api) -> None:
    headers = await api.tenant()
    too_many = {"operations": [create_message(str(i)) for i in range(11)]}
    code, body = await api.call("POST", "/v1/messages/bulks", headers, too_many)
    assert code == 422
    assert body["details"]["operations"][0]["error"] == "size_too_large"
    code, body = await api.call(
        "POST", "/v1/messages/bulks", headers, {"operations": [{"type": "merge", "entity": "message"}]}
    )
    assert code == 422
    assert body["details"]["operations"]["0"]["type"][0]["error"] == "inclusion"
    assert await names(api, headers) == []
