"""The sending status machine of spec §2.2, every state against update, cancel and delete."""

from __future__ import annotations

from typing import Any

import pytest
from tests.integration.api.conftest import Api

SMS = {"type": "sms", "template": {"type": "inline", "definition": {"type": "plain", "content": {"body": "Hi"}}}}
RECIPIENT = {"msisdn": "4740769126"}
ALL_STATUSES = ("draft", "scheduled", "preparing", "prepared", "transmitting", "transmitted", "skipped",
                "cancelled", "failed")  # fmt: skip
EDITABLE = {"draft", "scheduled"}
CANCELLABLE = {"scheduled", "preparing", "prepared", "transmitting"}


async def sending_in(api: Api, headers: dict[str, str], status: str) -> tuple[int, int]:
    """(message id, sending id) of a sending brought to `status`: created scheduled, then moved by SQL."""
    body = {"message": {"name": "M", "channels": [SMS], "sending": {
        "schedule": {"type": "relative", "in": "1 day"}, "recipients": [RECIPIENT]}}}  # fmt: skip
    code, created = await api.call("POST", "/v1/messages/generic", headers, body)
    assert code == 201, created
    sending_id = created["message"]["latest_sending"]["id"]
    # A draft with a schedule is one created with `draft: true`.
    await api.pool.execute("UPDATE sendings SET status = $2, draft = $2 = 'draft' WHERE id = $1", sending_id, status)
    return created["message"]["id"], sending_id


async def status_of(api: Api, sending_id: int) -> Any:
    return await api.pool.fetchval("SELECT status FROM sendings WHERE id = $1", sending_id)


@pytest.mark.parametrize("status", ALL_STATUSES)
async def test_a_sending_is_updated_only_while_draft_or_scheduled(api: Api, status: str) -> None:
    headers = await api.tenant()
    _, sending_id = await sending_in(api, headers, status)
    code, body = await api.call(
        "PUT", f"/v1/messages/generic/sendings/{sending_id}", headers, {"sending": {"properties": {"a": 1}}}
    )
    if status in EDITABLE:
        assert code == 200, body
        assert body["sending"]["properties"] == {"a": 1}
    else:
        assert code == 405
        assert body == {"error": f"A sending in status {status} cannot be updated"}
        assert await api.pool.fetchval("SELECT properties FROM sendings WHERE id = $1", sending_id) == {}
    assert await status_of(api, sending_id) == status


@pytest.mark.parametrize("status", ALL_STATUSES)
async def test_a_sending_is_cancelled_only_when_scheduled_or_executing(api: Api, status: str) -> None:
    headers = await api.tenant()
    _, sending_id = await sending_in(api, headers, status)
    code, body = await api.call("PUT", f"/v1/messages/generic/sendings/{sending_id}/cancel", headers)
    if status in CANCELLABLE:
        assert code == 200, body
        assert body["sending"]["status"] == "cancelled"
        assert await status_of(api, sending_id) == "cancelled"
    else:
        assert code == 405
        assert body == {"error": f"A sending in status {status} cannot be cancelled"}
        assert await status_of(api, sending_id) == status


@pytest.mark.parametrize("status", ALL_STATUSES)
async def test_deleting_the_message_cancels_a_sending_still_to_run_and_hides_both(api: Api, status: str) -> None:
    headers = await api.tenant()
    message_id, sending_id = await sending_in(api, headers, status)
    code, body = await api.call("DELETE", f"/v1/messages/generic/{message_id}", headers)
    assert code == 200, body
    assert body["message"]["id"] == message_id
    assert await status_of(api, sending_id) == ("cancelled" if status in CANCELLABLE else status)
    assert (await api.call("GET", f"/v1/messages/generic/{message_id}", headers))[0] == 404
    assert (await api.call("GET", f"/v1/messages/generic/sendings/{sending_id}", headers))[0] == 404
    assert (await api.call("DELETE", f"/v1/messages/generic/{message_id}", headers))[0] == 404


async def test_unscheduling_makes_a_draft_and_scheduling_again_makes_it_scheduled(api: Api) -> None:
    headers = await api.tenant()
    _, sending_id = await sending_in(api, headers, "scheduled")
    path = f"/v1/messages/generic/sendings/{sending_id}"
    code, body = await api.call("PUT", path, headers, {"sending": {"schedule": None}})
    assert code == 200, body
    assert body["sending"]["status"] == "draft"
    assert body["sending"]["scheduled_at"] is None
    assert body["sending"]["scheduled_with"] is None
    code, body = await api.call("PUT", path, headers, {"sending": {"schedule": {"type": "relative", "in": "2 hours"}}})
    assert code == 200, body
    assert body["sending"]["status"] == "scheduled"
    assert body["sending"]["scheduled_with"] == {"type": "relative", "in": "2 hours"}
    code, body = await api.call("PUT", path, headers, {"sending": {"draft": True}})
    assert body["sending"]["status"] == "draft"
    assert body["sending"]["draft"] is True


async def test_recipients_given_in_an_update_replace_all_inline_recipients(api: Api) -> None:
    headers = await api.tenant()
    _, sending_id = await sending_in(api, headers, "draft")
    path = f"/v1/messages/generic/sendings/{sending_id}"
    new = [{"msisdn": "+47 907 00 001", "properties": {"n": 1}}, {"member_id": 7}]
    code, body = await api.call("PUT", path, headers, {"sending": {"recipients": new}})
    assert code == 200, body
    assert body["sending"]["recipients"] == [
        {"member_id": None, "msisdn": "4790700001", "email": None, "app_token": None, "properties": {"n": 1}},
        {"member_id": 7, "msisdn": None, "email": None, "app_token": None, "properties": {}},
    ]
    assert body["sending"]["recipients_count"] == 2
    code, body = await api.call(
        "PUT",
        path,
        headers,
        {"sending": {"recipients": [], "draft": False, "schedule": {"type": "relative", "in": "1 hour"}}},
    )
    assert code == 422
    assert body["details"] == {"sending": {"base": [{
        "value": None, "error": "sending_must_have_audience_or_recipients", "options": {},
        "message": "sending must have audience or recipients"}]}}  # fmt: skip


async def test_priority_needs_its_permit(api: Api) -> None:
    without = await api.tenant("Messages:Api:Messages:Create", "Messages:Api:Messages:UseService:Generic")
    body = {"message": {"name": "M", "channels": [SMS], "sending": {"priority": 9, "recipients": [RECIPIENT]}}}
    code, answer = await api.call("POST", "/v1/messages/generic", without, body)
    assert code == 403
    assert "SetPriority" in answer["error"]
    code, answer = await api.call("POST", "/v1/messages/generic", await api.tenant(), body)
    assert code == 201
    assert answer["message"]["latest_sending"]["status"] == "draft"
