"""JSON responses rendered with orjson."""

from typing import Any

import orjson
from starlette.responses import Response


class JsonResponse(Response):
    """A JSON response serialized with orjson (FastAPI's own ORJSONResponse is deprecated)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)
