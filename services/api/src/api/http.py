"""JSON responses rendered with orjson."""

from typing import Any

import orjson
from starlette.responses import JSONResponse


class JsonResponse(JSONResponse):
    """A JSON response serialized with orjson (FastAPI's own ORJSONResponse is deprecated). A JSONResponse, so that
    FastAPI documents a route's `response_model` as its body."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)
