"""What the served OpenAPI document says beyond FastAPI's: the headers and token every `/v1` call needs (spec
§1.1), the services of `{service_name}`, the audience condition grammar (spec §3.2), and the documented examples.

The routes read the tenant headers and the token themselves (`api.routes.auth`), so that a missing one is answered 470
or 401 as the spec says rather than FastAPI's 422: they are declared here, on the document only, and the
server's behaviour does not depend on them.
"""

import importlib.resources
from typing import Any

import orjson

from api.permits import SERVICES
from shared.preparation.grammar import GROUPS, MEMBER_FIELDS, OPERATORS

TENANT_HEADERS = {
    "X-User-Agent": "Free text naming the client",
    "X-Product-Name": "The integrating system",
    "X-Loyalty-Club-Slug": "The loyalty club (tenant) the call acts for",
}
SECURITY_SCHEMES = {
    "ClientToken": {"type": "apiKey", "in": "header", "name": "X-Client-Authorization",
                    "description": "The API client's token"},
    "BearerToken": {"type": "http", "scheme": "bearer", "description": "The same token as `Authorization: Bearer`"},
}  # fmt: skip
# Either scheme will do.
SECURITY: list[dict[str, list[str]]] = [{name: []} for name in SECURITY_SCHEMES]
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "description": "The same key and body within 24 h replay the stored answer",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"\S"},
}  # fmt: skip
# A POST's 422 may also be about its Idempotency-Key (blank, too long, or used with another request): `error` only.
IDEMPOTENCY_422 = {
    "description": "Invalid parameters: `details` mirrors the payload; or an Idempotency-Key that is blank, longer "
    "than 255 characters or was used with another request (`error` only)",
    "schema": {"anyOf": [{"$ref": "#/components/schemas/InvalidParameters"}, {"$ref": "#/components/schemas/Error"}]},
}

_LEAF = {
    "type": "object",
    "description": "A condition on a member; `value` is required except with `exists` and `not_exists`, a "
    "non-empty array with `in`, `any` and `all`, a number or ISO 8601 date with `gt`, `gte`, `lt` and `lte`",
    "required": ["condition_group", "field", "operator"],
    "additionalProperties": False,
    "properties": {
        "condition_group": {"type": "string", "enum": list(GROUPS)},
        "field": {"type": "string", "minLength": 1, "pattern": r"\S",
                  "description": f"`properties.<field>` (dotted) or a member attribute: {', '.join(MEMBER_FIELDS)}, "
                  "consents.<slug>"},
        "operator": {"type": "string", "enum": list(OPERATORS)},
        "value": {"anyOf": [{"type": ["string", "number", "boolean"]},
                            {"type": "array", "minItems": 1, "items": {"type": ["string", "number", "boolean"]}}]},
        "type": {"type": "string"},
    },
}  # fmt: skip
_OR_GROUP = {
    "type": "object",
    "description": "Alternatives: any of its conditions holds (nested at most 5 levels)",
    "required": ["operator", "conditions"],
    "properties": {
        "operator": {"type": "string", "enum": ["or"]},
        "conditions": {"type": "array", "minItems": 1, "items": {"$ref": "#/components/schemas/AudienceCondition"}},
    },
}
CONDITION_SCHEMAS = {
    "AudienceCondition": {"anyOf": [{"$ref": "#/components/schemas/AudienceLeafCondition"},
                                    {"$ref": "#/components/schemas/AudienceOrGroup"}]},
    "AudienceLeafCondition": _LEAF,
    "AudienceOrGroup": _OR_GROUP,
}  # fmt: skip
CONDITIONS = {"type": "array", "minItems": 1, "items": {"$ref": "#/components/schemas/AudienceCondition"},
              "description": "All must hold (spec §3.2)"}  # fmt: skip
# Request models whose `conditions` follow the grammar (the server checks it in `api.conditions`).
MODELS_WITH_CONDITIONS = ("AudiencePayload", "AudienceBody")

_EXAMPLES = importlib.resources.files("api") / "examples"
M = "/v1/messages"
S = f"{M}/{{service_name}}"
_SENDINGS = ["create-sending-full.json", "create-sending-draft-inline-audience.json",
             "create-sending-relative-audience-and-recipients.json"]  # fmt: skip
# (method, path) → the documented request examples (spec/examples, copied into the package).
REQUEST_EXAMPLES = {
    ("post", S): ["create-message-sms-relative.json", "create-message-push-immediate.json"],
    ("put", f"{S}/{{message_id}}"): ["update-message.json"],
    ("post", f"{S}/{{message_id}}/sendings"): _SENDINGS,
    ("post", f"{S}/{{message_id}}/sendings/preview"): _SENDINGS,
    ("put", f"{S}/sendings/{{sending_id}}"): ["update-sending-unschedule.json"],
}
# (method, path) → the documented example of the success answer.
RESPONSE_EXAMPLES = {
    ("post", S): "response-message.json",
    ("get", f"{S}/{{message_id}}"): "response-message.json",
    ("put", f"{S}/{{message_id}}"): "response-message.json",
    ("post", f"{S}/{{message_id}}/sendings"): "response-sending.json",
    ("get", f"{S}/sendings/{{sending_id}}"): "response-sending.json",
    ("put", f"{S}/sendings/{{sending_id}}"): "response-sending.json",
    ("get", f"{M}/settings"): "response-settings.json",
}
INVALID_PARAMETERS_EXAMPLE = "error-422.json"


def example(name: str) -> Any:
    """A documented example by its file name."""
    return orjson.loads((_EXAMPLES / name).read_bytes())


def _examples(names: list[str]) -> dict[str, Any]:
    return {name.removesuffix(".json"): {"value": example(name)} for name in names}


def describe_request(operation: dict[str, Any], method: str, path: str) -> None:
    """The tenant headers, the token and the `{service_name}` enum of a `/v1` operation, and its examples."""
    parameters = operation.setdefault("parameters", [])
    for parameter in parameters:
        if parameter["in"] == "path" and parameter["name"] == "service_name":
            parameter["schema"] = {"type": "string", "enum": list(SERVICES), "description": "Unknown ⇒ 404"}
    parameters += [
        {"name": name, "in": "header", "required": True, "description": description,
         "schema": {"type": "string", "minLength": 1, "pattern": r"\S"}}
        for name, description in TENANT_HEADERS.items()
    ]  # fmt: skip
    if method == "post":
        parameters.append(IDEMPOTENCY_KEY)
        operation["responses"]["422"]["description"] = IDEMPOTENCY_422["description"]
        operation["responses"]["422"]["content"]["application/json"]["schema"] = IDEMPOTENCY_422["schema"]
    operation["security"] = SECURITY
    body = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if body is not None and (method, path) in REQUEST_EXAMPLES:
        body["examples"] = _examples(REQUEST_EXAMPLES[(method, path)])
    responses = operation["responses"]
    if (method, path) in RESPONSE_EXAMPLES:
        success = next(code for code in responses if code.startswith("2"))
        responses[success]["content"]["application/json"]["examples"] = _examples([RESPONSE_EXAMPLES[(method, path)]])
    if body is not None:
        responses["422"]["content"]["application/json"]["examples"] = _examples([INVALID_PARAMETERS_EXAMPLE])


def describe_components(schema: dict[str, Any]) -> None:
    """The security schemes, and the condition grammar in place of the bare arrays the models declare."""
    components = schema.setdefault("components", {})
    components["securitySchemes"] = SECURITY_SCHEMES
    schemas = components.setdefault("schemas", {})
    schemas.update(CONDITION_SCHEMAS)
    for model in MODELS_WITH_CONDITIONS:
        schemas[model]["properties"]["conditions"] = {"anyOf": [CONDITIONS, {"type": "null"}]}
