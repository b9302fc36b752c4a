"""JSON responses rendered with orjson."""

from typing import Any

import orjson
from pydantic import BaseModel
from starlette.responses import JSONResponse


def _body(value: Any) -> Any:
    """A body model inside the content: its fields as set (a field the view left out stays out, as in the spec)."""
    if isinstance(value, BaseModel):
        return value.model_dump(exclude_unset=True)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


class JsonResponse(JSONResponse):
    """A JSON response serialized with orjson (FastAPI's own ORJSONResponse is deprecated). A JSONResponse, so that
    FastAPI documents a route's `response_model` as its body."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, default=_body)
