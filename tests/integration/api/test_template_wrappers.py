"""Templates wrapping templates: which types may wrap which, one level only, and what a wrapper's use forbids."""

from __future__ import annotations

import pytest
from tests.integration.api.conftest import Api
from tests.integration.api.templates import ALLOWED_WRAPPERS, CONTENT, TEMPLATES, create, error_of


async def test_an_update_with_null_clears_the_wrapper_but_not_the_name(api: Api) -> None:
    headers = await api.tenant()
    wrapper = await create(api, headers, "plain")
    template = await create(api, headers, "plain", wrapper_id=wrapper["id"])
    assert template["wrapper_id"] == wrapper["id"]
    path = f"{TEMPLATES}/{template['id']}"

    status, answer = await api.call("PUT", path, headers, {"template": {"name": None}})
    assert status == 422
    assert error_of(answer["details"]["template"], "name")["error"] == "presence"

    status, answer = await api.call("PUT", path, headers, {"template": {"wrapper_id": None}})
    assert status == 200, answer
    assert answer["template"]["wrapper_id"] is None
    assert answer["template"]["name"] == template["name"]


@pytest.mark.parametrize("wrapper_type", sorted(CONTENT))
@pytest.mark.parametrize("template_type", sorted(CONTENT))
async def test_a_wrapper_type_is_accepted_exactly_when_the_spec_allows_it(
    api: Api, template_type: str, wrapper_type: str
) -> None:
    headers = await api.tenant()
    wrapper = await create(api, headers, wrapper_type)
    body = {"name": "Wrapped", "type": template_type, "content": CONTENT[template_type], "wrapper_id": wrapper["id"]}
    status, answer = await api.call("POST", TEMPLATES, headers, {"template": body})
    if wrapper_type in ALLOWED_WRAPPERS[template_type]:
        assert status == 201, answer
        assert answer["template"]["wrapper_id"] == wrapper["id"]
    else:
        assert status == 422, answer
        error = error_of(answer["details"]["template"], "wrapper_id")
        assert (error["value"], error["error"]) == (wrapper["id"], "wrapper_type_does_not_match")
        assert set(error["options"]["in"]) == ALLOWED_WRAPPERS[template_type]


async def test_a_wrapper_of_another_loyalty_club_does_not_exist(api: Api) -> None:
    headers, others = await api.tenant(), await api.tenant()
    foreign = await create(api, others, "plain")
    body = {"name": "W", "type": "plain", "content": CONTENT["plain"], "wrapper_id": foreign["id"]}
    status, answer = await api.call("POST", TEMPLATES, headers, {"template": body})
    assert status == 422
    error = error_of(answer["details"]["template"], "wrapper_id")
    assert (error["value"], error["error"]) == (foreign["id"], "template_does_not_exist")


async def test_wrapping_is_one_level_only(api: Api) -> None:
    headers = await api.tenant()
    outer = await create(api, headers, "plain")
    middle = await create(api, headers, "plain", wrapper_id=outer["id"])
    body = {"name": "Inner", "type": "plain", "content": CONTENT["plain"], "wrapper_id": middle["id"]}
    status, answer = await api.call("POST", TEMPLATES, headers, {"template": body})
    assert status == 422
    assert error_of(answer["details"]["template"], "wrapper_id")["error"] == "invalid"

    # The other way round: a template already wrapping another cannot get a wrapper, nor wrap itself.
    lonely = await create(api, headers, "plain")
    status, answer = await api.call(
        "PUT", f"{TEMPLATES}/{outer['id']}", headers, {"template": {"wrapper_id": lonely["id"]}}
    )
    assert status == 422
    assert error_of(answer["details"]["template"], "wrapper_id")["error"] == "invalid"
    status, answer = await api.call(
        "PUT", f"{TEMPLATES}/{lonely['id']}", headers, {"template": {"wrapper_id": lonely["id"]}}
    )
    assert status == 422
    assert error_of(answer["details"]["template"], "wrapper_id")["error"] == "invalid"


async def test_a_wrapper_keeps_a_type_its_wrapped_templates_accept(api: Api) -> None:
    headers = await api.tenant()
    wrapper = await create(api, headers, "generic")
    await create(api, headers, "push", wrapper_id=wrapper["id"])
    update = {"template": {"type": "email", "content": CONTENT["email"]}}
    status, answer = await api.call("PUT", f"{TEMPLATES}/{wrapper['id']}", headers, update)
    assert status == 422
    error = error_of(answer["details"]["template"], "type")
    assert (error["value"], error["error"]) == ("email", "wrapper_type_does_not_match")


async def test_a_template_used_as_a_wrapper_cannot_be_deleted(api: Api) -> None:
    headers = await api.tenant()
    wrapper = await create(api, headers, "plain")
    wrapped = await create(api, headers, "plain", wrapper_id=wrapper["id"])
    path = f"{TEMPLATES}/{wrapper['id']}"
    status, answer = await api.call("DELETE", path, headers)
    assert status == 405
    assert set(answer) == {"error"}
    assert (await api.call("GET", path, headers))[0] == 200

    assert (await api.call("DELETE", f"{TEMPLATES}/{wrapped['id']}", headers))[0] == 200
    assert (await api.call("DELETE", path, headers))[0] == 200


async def test_a_template_wrapping_a_live_message_channel_cannot_be_deleted(api: Api) -> None:
    headers = await api.tenant()
    wrapper = await create(api, headers, "plain")
    definition = {"type": "plain", "content": {"body": "Hi"}, "wrapper_id": wrapper["id"]}
    channel = {"type": "sms", "template": {"type": "inline", "definition": definition}}
    status, created = await api.call(
        "POST", "/v1/messages/generic", headers, {"message": {"name": "M", "channels": [channel]}}
    )
    assert status == 201, created
    path = f"{TEMPLATES}/{wrapper['id']}"
    assert (await api.call("DELETE", path, headers))[0] == 405

    assert (await api.call("DELETE", f"/v1/messages/generic/{created['message']['id']}", headers))[0] == 200
    assert (await api.call("DELETE", path, headers))[0] == 200
