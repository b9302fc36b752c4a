"""The served OpenAPI document: every error status of every endpoint, described.

Each route declares its success body (`response_model`, from `api.bodies`); routes return orjson responses
built by `api.views`, so FastAPI documents the model without validating the answer again. What FastAPI
cannot infer is added here: the error statuses of spec §1.3 on every `/v1` operation instead of FastAPI's
default 422, the probes' 503, the short link's redirect, and the request side (`api.openapi_contract`).
"""

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from api.bodies import BulkResults, Error, InvalidParameters, NotReady
from api.openapi_contract import describe_components, describe_request

ERRORS: dict[int, tuple[str, type[BaseModel] | None]] = {
    400: ("Body is not valid JSON (empty body)", None),
    401: ("Missing, unknown or revoked token, or not valid for this LC", Error),
    403: ("Token lacks the endpoint's permit", Error),
    404: ("Not found in this LC and service", Error),
    405: ("Not allowed in the resource's state, or method not allowed", Error),
    409: ("A request with this Idempotency-Key is still running", Error),
    413: ("Body larger than the configured limit", Error),
    415: ("Body that is not JSON", Error),
    422: ("Invalid parameters: `details` mirrors the payload", InvalidParameters),
    429: ("Rate limit of the LC exceeded; see Retry-After", Error),
    470: ("Missing tenant header (or, for bulks, a failed operation with the results so far)", Error),
    471: ("Invalid tenant header value", Error),
}


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _json(model: type[BaseModel] | None, description: str) -> dict[str, Any]:
    if model is None:
        return {"description": description}
    return {"description": description, "content": {"application/json": {"schema": _ref(model)}}}


def _describe(operation: dict[str, Any], method: str, path: str) -> None:
    responses: dict[str, Any] = {  # the route's own success body (its `response_model`)
        status: {**answer, "description": "Success"}
        for status, answer in operation.get("responses", {}).items()
        if status.startswith("2") and answer.get("content", {}).get("application/json", {}).get("schema")
    }
    if path == "/s/{code}":
        location = {"Location": {"schema": {"type": "string"}}}
        responses["302"] = {"description": "Redirect to the link's URL", "headers": location}
        responses["404"] = _json(Error, "No such link")
    if path == "/readyz":
        responses["503"] = _json(NotReady, "The database or the broker is not ready")
    if path == "/readyz/pipeline":
        responses["503"] = _json(NotReady, "A service of the pipeline has no ready instance")
    if path.startswith("/v1/"):
        for code, (description, model) in ERRORS.items():
            responses[str(code)] = _json(model, description)
        if path.endswith("/bulks"):
            responses["470"]["content"]["application/json"]["schema"] = {"anyOf": [_ref(Error), _ref(BulkResults)]}
    operation["responses"] = responses or operation["responses"]
    operation.setdefault("parameters", [])
    if path.startswith("/v1/"):
        describe_request(operation, method, path)


def install_openapi(app: FastAPI) -> None:
    """Replace the app's OpenAPI generator with one that describes every answer."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        models: list[type[BaseModel]] = [NotReady, *(m for _, m in ERRORS.values() if m is not None)]
        _, definitions = models_json_schema(
            [(m, "serialization") for m in models], ref_template="#/components/schemas/{model}"
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(definitions.get("$defs", {}))
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
        describe_components(schema)
        for path, operations in schema["paths"].items():
            for method, operation in operations.items():
                _describe(operation, method, path)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
