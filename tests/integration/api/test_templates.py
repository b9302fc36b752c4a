"""Standalone templates and bee templates (spec §2.5, endpoints 17-24), as a client sees them."""

from __future__ import annotations

from tests.integration.api.conftest import Api
from tests.integration.api.templates import CONTENT, ISO_MS, TEMPLATES, create, error_of

from api import permits


async def test_a_template_is_created_shown_listed_updated_and_deleted(api: Api) -> None:
    headers = await api.tenant()
    body = {"template": {"name": "Welcome", "type": "email", "content": CONTENT["email"]}}
    status, created = await api.call("POST", TEMPLATES, headers, body)
    assert status == 201, created
    template = created["template"]
    assert set(template) == {"id", "name", "type", "content", "wrapper_id", "created_at", "updated_at"}
    assert isinstance(template["id"], int)
    assert (template["name"], template["type"], template["content"]) == ("Welcome", "email", CONTENT["email"])
    assert template["wrapper_id"] is None
    assert ISO_MS.match(template["created_at"])
    assert ISO_MS.match(template["updated_at"])

    path = f"{TEMPLATES}/{template['id']}"
    assert await api.call("GET", path, headers) == (200, {"template": template})
    status, listed = await api.call("GET", TEMPLATES, headers)
    assert status == 200
    assert listed["templates"] == [template]
    assert listed["pagination_info"]["total_count"] == 1

    status, updated = await api.call("PUT", path, headers, {"template": {"name": "Welcome back"}})
    assert status == 200, updated
    assert updated["template"]["name"] == "Welcome back"
    assert updated["template"]["content"] == CONTENT["email"]
    assert updated["template"]["created_at"] == template["created_at"]
    assert updated["template"]["updated_at"] >= template["updated_at"]

    new_content = {"body": "<b>{{ first_name }}</b>", "subject": "Hello"}
    status, updated = await api.call("PUT", path, headers, {"template": {"content": new_content}})
    assert status == 200, updated
    assert updated["template"]["content"] == new_content
    assert updated["template"]["name"] == "Welcome back"

    status, deleted = await api.call("DELETE", path, headers)
    assert (status, deleted) == (200, updated)
    assert (await api.call("GET", path, headers))[0] == 404
    assert (await api.call("GET", TEMPLATES, headers))[1]["templates"] == []
    assert (await api.call("DELETE", path, headers))[0] == 404


async def test_templates_are_filtered_by_type_and_by_text_in_name_or_content(api: Api) -> None:
    headers = await api.tenant()
    plain = await create(api, headers, "plain", name="Birthday greeting")
    email = await create(api, headers, "email", name="Newsletter", content={"body": "Our SALE starts", "subject": "x"})
    push = await create(api, headers, "push", name="Reminder", content={"body": "Come back", "data": {"k": "sale"}})

    async def names(query: str) -> list[str]:
        status, page = await api.call("GET", f"{TEMPLATES}?{query}", headers)
        assert status == 200, page
        return [t["name"] for t in page["templates"]]

    assert await names("type=email") == [email["name"]]
    assert await names("search=BIRTHDAY") == [plain["name"]]
    assert await names("search=sale") == [email["name"]]  # strings only: push's `data` object is not searched
    assert await names("search=e&type=push") == [push["name"]]
    assert await names("search=100%25") == []


async def test_templates_are_paginated_like_every_list(api: Api) -> None:
    headers = await api.tenant()
    ids = [(await create(api, headers, name=f"T{i}"))["id"] for i in range(5)]
    status, page = await api.call("GET", f"{TEMPLATES}?per_page=2&page_no=3", headers)
    assert status == 200
    assert [t["id"] for t in page["templates"]] == ids[4:]
    assert page["pagination_info"] == {
        "total_count": 5,
        "per_page": 2,
        "total_pages": 3,
        "current_page": 3,
        "next_page": None,
        "prev_page": 2,
        "is_first_page": False,
        "is_last_page": True,
        "is_out_of_range": False,
    }


async def test_an_unknown_type_filter_is_refused(api: Api) -> None:
    headers = await api.tenant()
    status, body = await api.call("GET", f"{TEMPLATES}?type=fax", headers)
    assert status == 422
    assert error_of(body["details"], "type")["error"] == "inclusion"


async def test_a_liquid_syntax_error_is_answered_with_the_parsers_message(api: Api) -> None:
    headers = await api.tenant()
    body = {"template": {"name": "Broken", "type": "plain", "content": {"body": "Hi {% if %}"}}}
    status, answer = await api.call("POST", TEMPLATES, headers, body)
    assert status == 422
    assert answer == {
        "error": "Invalid parameters",
        "details": {
            "template": {
                "content": {
                    "body": [
                        {
                            "value": "Hi {% if %}",
                            "error": "liquid_syntax_error",
                            "options": {"syntax_error": "missing expression"},
                            "message": "has a Liquid syntax error: missing expression",
                        }
                    ]
                }
            }
        },
    }


async def test_unknown_attributes_and_missing_ones_are_refused(api: Api) -> None:
    headers = await api.tenant()
    body = {"template": {"id": 7, "type": "email", "content": {"body": "x", "sender": "me"}}}
    status, answer = await api.call("POST", TEMPLATES, headers, body)
    assert status == 422
    details = answer["details"]["template"]
    assert error_of(details, "id") == {
        "value": 7,
        "error": "unknown_attribute",
        "options": {},
        "message": "is not a known attribute",
    }
    assert error_of(details, "name")["error"] == "presence"

    body = {"template": {"name": "N", "type": "email", "content": {"body": "x", "sender": "me"}}}
    status, answer = await api.call("POST", TEMPLATES, headers, body)
    assert status == 422
    content = answer["details"]["template"]["content"]
    assert error_of(content, "sender")["error"] == "unknown_attribute"
    assert error_of(content, "subject")["error"] == "presence"


async def test_another_loyalty_club_never_sees_the_template(api: Api) -> None:
    owner, other = await api.tenant(), await api.tenant()
    template = await create(api, owner)
    path = f"{TEMPLATES}/{template['id']}"
    for method, body in (("GET", None), ("PUT", {"template": {"name": "Mine"}}), ("DELETE", None)):
        status, answer = await api.call(method, path, other, body)
        assert status == 404, (method, answer)
        assert set(answer) == {"error"}
    assert (await api.call("GET", TEMPLATES, other))[1]["templates"] == []
    assert (await api.call("GET", path, owner))[1]["template"] == template


async def test_a_token_without_the_permit_is_forbidden(api: Api) -> None:
    headers = await api.tenant(permits.TEMPLATES_GET, "Messages:Api:Templates:Index")
    body = {"template": {"name": "N", "type": "plain", "content": CONTENT["plain"]}}
    status, answer = await api.call("POST", TEMPLATES, headers, body)
    assert status == 403
    assert set(answer) == {"error"}
    assert (await api.call("GET", TEMPLATES, headers))[0] == 200  # `Index` is a synonym of `List`
    assert (await api.call("DELETE", f"{TEMPLATES}/1", headers))[0] == 403


async def test_bee_templates_are_listed_by_tag_and_shown_with_their_tags(api: Api) -> None:
    headers = await api.tenant()
    spring = await create(api, headers, "bee_email", name="Spring", tags=["season", "Sale", "season"])
    autumn = await create(api, headers, "bee_email", name="Autumn", tags=["season", "autumn"])
    await create(api, headers, "email", name="Spring plain email")

    status, page = await api.call("GET", "/v1/messages/bee_templates", headers)
    assert status == 200
    assert [t["id"] for t in page["bee_templates"]] == [spring["id"], autumn["id"]]
    assert page["bee_templates"][0] == {**spring, "tags": ["season", "Sale"]}
    assert page["pagination_info"]["total_count"] == 2

    status, page = await api.call("GET", "/v1/messages/bee_templates?tag=autumn", headers)
    assert [t["name"] for t in page["bee_templates"]] == ["Autumn"]
    status, page = await api.call("GET", "/v1/messages/bee_templates?search=spring", headers)
    assert [t["name"] for t in page["bee_templates"]] == ["Spring"]

    status, shown = await api.call("GET", f"/v1/messages/bee_templates/{autumn['id']}", headers)
    assert (status, shown) == (200, {"bee_template": {**autumn, "tags": ["season", "autumn"]}})
    assert await api.call("GET", "/v1/messages/bee_templates/tags", headers) == (
        200,
        {"tags": ["Sale", "autumn", "season"]},
    )


async def test_a_plain_template_is_no_bee_template(api: Api) -> None:
    headers = await api.tenant()
    email = await create(api, headers, "email")
    assert (await api.call("GET", f"/v1/messages/bee_templates/{email['id']}", headers))[0] == 404
    status, answer = await api.call("PUT", f"{TEMPLATES}/{email['id']}", headers, {"template": {"tags": ["x"]}})
    assert status == 422
    error = error_of(answer["details"]["template"], "tags")
    assert (error["error"], error["options"]) == ("attribute_cannot_be_present_with", {"with": "type"})


async def test_a_bee_template_body_changes_only_with_its_bee_json(api: Api) -> None:
    headers = await api.tenant()
    bee = await create(api, headers, "bee_email")
    path = f"{TEMPLATES}/{bee['id']}"
    same_design = {"subject": "New subject", "bee_json": CONTENT["bee_email"]["bee_json"]}

    status, answer = await api.call("PUT", path, headers, {"template": {"content": same_design}})
    assert status == 200, answer
    assert answer["template"]["content"] == {**same_design, "body": CONTENT["bee_email"]["body"]}

    edited = {**same_design, "body": "<html>edited by hand</html>"}
    status, answer = await api.call("PUT", path, headers, {"template": {"content": edited}})
    assert status == 422
    assert error_of(answer["details"]["template"]["content"], "body")["error"] == "invalid"

    redesigned = {**edited, "bee_json": {"page": {"rows": [1]}}}
    status, answer = await api.call("PUT", path, headers, {"template": {"content": redesigned}})
    assert status == 200, answer
    assert answer["template"]["content"] == redesigned
