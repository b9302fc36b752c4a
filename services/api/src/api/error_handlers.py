"""The one mapping of every error onto the status codes and bodies of spec §1.3, installed on the app."""

import functools
import re

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from api.errors import ApiError, InvalidParameters, tree_from_pydantic
from api.http import JsonResponse

log = structlog.get_logger(__name__)


def _regex_for(path: str, integers: set[str]) -> re.Pattern[str]:
    def segment(match: re.Match[str]) -> str:
        return r"\d+" if match[1] in integers else r"[^/]+"

    return re.compile("^" + re.sub(r"\{(\w+)\}", segment, path) + "$")


@functools.cache
def _path_patterns(app: FastAPI) -> list[tuple[re.Pattern[str], frozenset[str]]]:
    """Each documented path as a regex (integer parameters match digits only), with its methods."""
    patterns = []
    for path, operations in app.openapi()["paths"].items():
        integers = {
            p["name"] for op in operations.values() for p in op.get("parameters", [])
            if p.get("in") == "path" and p.get("schema", {}).get("type") == "integer"
        }  # fmt: skip
        patterns.append((_regex_for(path, integers), frozenset(m.upper() for m in operations)))
    return patterns


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """The methods of the documented path that `path` is: the most specific one (fewest parameters)."""
    matches = [(pattern.pattern.count("+"), methods) for pattern, methods in _path_patterns(app) if pattern.match(path)]
    if not matches:
        return []
    fewest = min(count for count, _ in matches)
    return sorted({m for count, methods in matches if count == fewest for m in methods})


def install_error_handlers(app: FastAPI) -> None:
    """Map every error onto the spec's status codes and `{"error": ...}` bodies, in one place."""

    @app.exception_handler(ApiError)
    async def on_api_error(_: Request, exc: ApiError) -> Response:
        return JsonResponse(exc.body(), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(_: Request, exc: RequestValidationError) -> Response:
        errors = exc.errors()
        # Not JSON at all, or no body where one is required: 400 with an empty body (spec §1.1).
        if any(
            e["type"] in {"json_invalid", "json_type"} or (tuple(e["loc"]), e["type"]) == (("body",), "missing")
            for e in errors
        ):
            return Response(status_code=400)
        body_errors = [e for e in errors if tuple(e["loc"][:1]) == ("body",)]
        # Query and path parameters are keyed by their name as sent (`type[]`), an element of a list parameter
        # too: a query string has no shape for `details` to mirror. Their errors read as the body's do.
        parameters = [{**e, "loc": tuple(e["loc"][:2])} for e in errors if tuple(e["loc"][:1]) != ("body",)]
        tree = tree_from_pydantic([*body_errors, *parameters], strip_prefix=1)
        return JsonResponse(InvalidParameters(tree).body(), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException) -> Response:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # RFC 9110: list every method the resource supports, not one route's
            headers["Allow"] = ", ".join(allowed_methods(app, request.url.path)) or headers.get("Allow", "")
        return JsonResponse({"error": str(exc.detail)}, status_code=exc.status_code, headers=headers)

    @app.exception_handler(Exception)
    async def on_unexpected(_: Request, exc: Exception) -> Response:
        log.exception("unhandled_error", error=repr(exc)[:500])
        return JsonResponse({"error": "Internal server error"}, status_code=500)
