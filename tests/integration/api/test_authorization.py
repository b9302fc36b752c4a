"""The authorization matrix: every endpoint against missing and tampered tokens, missing permits, other LCs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from tests.integration.api.conftest import Api

from api import permits
from api.config import ApiSettings
from api.main import create_app

SMS = {"type": "sms", "template": {"type": "inline", "definition": {"type": "plain", "content": {"body": "Hi"}}}}
MESSAGE = {"message": {"name": "M", "channels": [SMS]}}
SENDING = {"sending": {"schedule": {"type": "relative", "in": "1 day"}, "recipients": [{"msisdn": "4740769126"}]}}
TEMPLATE = {"template": {"name": "T", "type": "plain", "content": {"body": "Hi"}}}
CONDITION = {"condition_group": "member_properties", "field": "first_name", "operator": "match", "value": "Piotr"}
AUDIENCE = {"audience": {"name": "Piotrs", "conditions": [CONDITION]}}


@dataclass(frozen=True)
class Endpoint:
    method: str
    route: str  # as the app declares it
    permit: str
    body: Any = None

    def path(self, ids: dict[str, int]) -> str:
        return (
            self.route.replace("{service_name}", "generic").replace("{message_id:int}", str(ids["message"]))
            .replace("{sending_id:int}", str(ids["sending"])).replace("{template_id:int}", str(ids["template"]))
            .replace("{identity_id:int}", str(ids["identity"])).replace("{audience_id:int}", str(ids["audience"]))
        )  # fmt: skip


P = "/v1/messages"
ENDPOINTS = [
    Endpoint("POST", f"{P}/{{service_name}}", permits.MESSAGES_CREATE, MESSAGE),
    Endpoint("GET", f"{P}/{{service_name}}", permits.MESSAGES_LIST),
    Endpoint("GET", f"{P}/{{service_name}}/overview", permits.MESSAGES_LIST),
    Endpoint("GET", f"{P}/{{service_name}}/{{message_id:int}}", permits.MESSAGES_GET),
    Endpoint("PUT", f"{P}/{{service_name}}/{{message_id:int}}", permits.MESSAGES_UPDATE, {"message": {"name": "x"}}),
    Endpoint("PUT", f"{P}/{{service_name}}/{{message_id:int}}/duplicate", permits.MESSAGES_CREATE),
    Endpoint("DELETE", f"{P}/{{service_name}}/{{message_id:int}}", permits.MESSAGES_DESTROY),
    Endpoint("GET", f"{P}/{{service_name}}/{{message_id:int}}/sendings", permits.SENDINGS_GET),
    Endpoint("POST", f"{P}/{{service_name}}/{{message_id:int}}/sendings", permits.SENDINGS_CREATE, SENDING),
    Endpoint("POST", f"{P}/{{service_name}}/{{message_id:int}}/sendings/preview", permits.SENDINGS_CREATE, SENDING),
    Endpoint("GET", f"{P}/{{service_name}}/sendings/{{sending_id:int}}", permits.SENDINGS_GET),
    Endpoint("PUT", f"{P}/{{service_name}}/sendings/{{sending_id:int}}", permits.SENDINGS_UPDATE, {"sending": {}}),
    Endpoint("PUT", f"{P}/{{service_name}}/sendings/{{sending_id:int}}/cancel", permits.SENDINGS_UPDATE),
    Endpoint("GET", f"{P}/{{service_name}}/sendings/{{sending_id:int}}/dispatches", permits.DISPATCHES_LIST),
    Endpoint(
        "GET", f"{P}/{{service_name}}/sendings/{{sending_id:int}}/dispatches/members", permits.DISPATCHES_MEMBERS_INDEX
    ),
    Endpoint(
        "POST",
        f"{P}/bulks",
        permits.BULKS_PROCESS,
        {
            "operations": [
                {
                    "type": "update",
                    "entity": "message",
                    "params": {"service": "generic", "id": 0},
                    "payload": {"message": {}},
                }
            ]
        },
    ),
    Endpoint("GET", f"{P}/templates", permits.TEMPLATES_LIST),
    Endpoint("POST", f"{P}/templates", permits.TEMPLATES_CREATE, TEMPLATE),
    Endpoint("GET", f"{P}/templates/{{template_id:int}}", permits.TEMPLATES_GET),
    Endpoint("PUT", f"{P}/templates/{{template_id:int}}", permits.TEMPLATES_UPDATE, {"template": {"name": "x"}}),
    Endpoint("DELETE", f"{P}/templates/{{template_id:int}}", permits.TEMPLATES_DESTROY),
    Endpoint("GET", f"{P}/bee_templates", permits.TEMPLATES_LIST),
    Endpoint("GET", f"{P}/bee_templates/tags", permits.TEMPLATES_LIST),
    Endpoint("GET", f"{P}/bee_templates/{{template_id:int}}", permits.TEMPLATES_GET),
    Endpoint("GET", f"{P}/merge_properties", permits.MESSAGES_GET),
    Endpoint("GET", f"{P}/settings", permits.SETTINGS_SHOW),
    Endpoint("GET", "/v1/messages_history?member_id=1", permits.MESSAGES_HISTORY_LIST),
    Endpoint("GET", f"{P}/sender_identities", permits.SETTINGS_SHOW),
    Endpoint(
        "POST",
        f"{P}/sender_identities",
        permits.MESSAGES_UPDATE,
        {"sender_identity": {"type": "alphanumeric", "value": "Other"}},
    ),
    Endpoint("DELETE", f"{P}/sender_identities/{{identity_id:int}}", permits.MESSAGES_UPDATE),
    Endpoint("GET", "/v1/audiences", permits.MESSAGES_CREATE),
    Endpoint("POST", "/v1/audiences", permits.MESSAGES_CREATE, AUDIENCE),
    Endpoint("GET", "/v1/audiences/{audience_id:int}", permits.MESSAGES_CREATE),
    Endpoint("PUT", "/v1/audiences/{audience_id:int}", permits.MESSAGES_CREATE, AUDIENCE),
    Endpoint("DELETE", "/v1/audiences/{audience_id:int}", permits.MESSAGES_CREATE),
]
# Any valid token may list the services it may use: no permit to lack.
WITHOUT_PERMIT = [Endpoint("GET", f"{P}/services", "")]  # fmt: skip
UNAUTHENTICATED_ROUTES = {
    "/healthz",
    "/readyz",
    "/readyz/pipeline",
    "/s/{code}",
    "/openapi.json",
    "/docs",
    "/docs/oauth2-redirect",
    "/redoc",
}


def test_the_matrix_lists_every_route_of_the_api() -> None:
    paths = create_app(ApiSettings()).openapi()["paths"]
    declared = {(method.upper(), path) for path, operations in paths.items() for method in operations}
    declared -= {("GET", path) for path in UNAUTHENTICATED_ROUTES}
    listed = {(e.method, e.route.replace(":int", "").split("?")[0]) for e in [*ENDPOINTS, *WITHOUT_PERMIT]}
    assert declared == listed


async def _owned_ids(api: Api, headers: dict[str, str]) -> dict[str, int]:
    code, message = await api.call("POST", f"{P}/generic", headers, {"message": {**MESSAGE["message"], **SENDING}})
    assert code == 201, message
    code, template = await api.call("POST", f"{P}/templates", headers, TEMPLATE)
    assert code == 201, template
    code, identity = await api.call(
        "POST", f"{P}/sender_identities", headers, {"sender_identity": {"type": "alphanumeric", "value": "Shop"}}
    )
    assert code == 201, identity
    code, audience = await api.call("POST", "/v1/audiences", headers, AUDIENCE)
    assert code == 201, audience
    ids = {"message": message["message"]["id"], "sending": message["message"]["latest_sending"]["id"],
           "template": template["template"]["id"], "identity": identity["sender_identity"]["id"],
           "audience": audience["audience"]["id"]}  # fmt: skip
    await api.pool.execute("UPDATE templates SET type = 'bee_email' WHERE id = $1", ids["template"])
    return ids


@pytest.mark.parametrize("endpoint", [*ENDPOINTS, *WITHOUT_PERMIT], ids=lambda e: f"{e.method} {e.route}")
async def test_tokens_that_are_missing_or_tampered_get_401(api: Api, endpoint: Endpoint) -> None:
    headers = await api.tenant()
    ids = await _owned_ids(api, headers)
    tampered = {**headers, "X-Client-Authorization": headers["X-Client-Authorization"][:-1] + "x"}
    missing = {k: v for k, v in headers.items() if k != "X-Client-Authorization"}
    for bad in (tampered, missing):
        code, body = await api.call(endpoint.method, endpoint.path(ids), bad, endpoint.body)
        assert code == 401, body


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: f"{e.method} {e.route}")
async def test_a_token_without_the_endpoints_permit_gets_403(api: Api, endpoint: Endpoint) -> None:
    owner = await api.tenant()
    ids = await _owned_ids(api, owner)
    slug = owner["X-Loyalty-Club-Slug"]
    lacking = await api.tenant(*(p for p in permits.ALL_PERMITS if p != endpoint.permit), slug=f"{slug}-x")
    await api.pool.execute(
        "UPDATE api_clients SET loyalty_club_ids = loyalty_club_ids || (SELECT id FROM loyalty_clubs WHERE slug = $1)",
        slug,
    )
    code, body = await api.call(
        endpoint.method, endpoint.path(ids), {**lacking, "X-Loyalty-Club-Slug": slug}, endpoint.body
    )
    assert code == 403, body
    assert endpoint.permit in body["error"]


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: f"{e.method} {e.route}")
async def test_another_lc_gets_404_for_the_ids_and_never_sees_them_in_lists(api: Api, endpoint: Endpoint) -> None:
    owner, stranger = await api.tenant(), await api.tenant()
    ids = await _owned_ids(api, owner)
    code, body = await api.call(endpoint.method, endpoint.path(ids), stranger, endpoint.body)
    if any(f"{{{name}_id:int}}" in endpoint.route for name in ids):
        assert code == 404, body
    elif endpoint.route.endswith("bulks"):
        body_with_id = {
            "operations": [{**endpoint.body["operations"][0], "params": {"service": "generic", "id": ids["message"]}}]
        }
        code, body = await api.call("POST", endpoint.path(ids), stranger, body_with_id)
        assert (code, body["results"][0]["response"]["status"]) == (470, 404)
    else:
        assert code in (200, 201), body
        assert not set(ids.items()) & _ids_in(body), f"{endpoint} shows another LC's ids: {body}"


KINDS = {
    "message": "message", "messages": "message", "sending": "sending", "sendings": "sending",
    "latest_sending": "sending", "template": "template", "templates": "template", "bee_template": "template",
    "bee_templates": "template", "sender_identity": "identity", "sender_identities": "identity",
    "audience": "audience", "audiences": "audience",
}  # fmt: skip


def _ids_in(body: Any, kind: str | None = None) -> set[tuple[str, int]]:
    """Every (kind, id) of a resource anywhere in a response, the kind told by the key holding it."""
    found: set[tuple[str, int]] = set()
    if isinstance(body, dict):
        if kind and isinstance(body.get("id"), int):
            found.add((kind, body["id"]))
        for key, value in body.items():
            found |= _ids_in(value, KINDS.get(key))
    elif isinstance(body, list):
        for item in body:
            found |= _ids_in(item, kind)
    return found
