"""The API's errors, with the status code and body spec §1.3 gives each; `api.error_handlers` answers them."""

from collections.abc import Sequence
from typing import Any

from shared.domain import INT64_MAX, INT64_MIN

# Pydantic's error types, translated to the error keys of the spec.
_PYDANTIC_TO_SPEC = {
    "missing": "presence",
    "extra_forbidden": "unknown_attribute",
    "model_type": "must_be_an_object",
    "model_attributes_type": "must_be_an_object",
    "dict_type": "must_be_an_object",
    "list_type": "must_be_an_array",
    "int_type": "not_an_integer",
    "int_parsing": "not_an_integer",
    "int_from_float": "not_an_integer",
    "literal_error": "inclusion",
    "bool_parsing": "inclusion",
    "bool_type": "inclusion",
    "float_type": "not_a_number",
    "float_parsing": "not_a_number",
    "too_short": "size_too_small",
    "too_long": "size_too_large",
    "string_too_short": "size_too_small",
    "string_too_long": "size_too_large",
    "greater_than_equal": "greater_or_equal_to",
    "less_than_equal": "less_or_equal_to",
}
_MESSAGES = {
    "presence": "must be present",
    "unknown_attribute": "is not a known attribute",
    "must_be_an_object": "must be an object",
    "must_be_an_array": "must be an array",
    "not_an_integer": "is not an integer",
    "not_a_number": "is not a number",
    "size_too_small": "is too small",
    "size_too_large": "is too large",
    "greater_or_equal_to": "must be greater than or equal to %{number}",
    "less_or_equal_to": "must be less than or equal to %{number}",
    "inclusion": "is not included in the list",
    "invalid": "is invalid",
}


class ApiError(Exception):
    """An error answered as `{"error": message}` with `status`."""

    status = 500
    default_message = "Internal server error"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.default_message)
        self.message = message or self.default_message

    def body(self) -> dict[str, Any]:
        """The answer's body, as spec §1.3 writes it."""
        return {"error": self.message}


class MissingHeader(ApiError):
    status = 470
    default_message = "Missing required header"


class InvalidHeader(ApiError):
    status = 471
    default_message = "Invalid header value"


class Unauthenticated(ApiError):
    status = 401
    default_message = "Unauthorized"


class Forbidden(ApiError):
    status = 403
    default_message = "Forbidden"


class NotFound(ApiError):
    status = 404
    default_message = "Not found"


class NotAllowedInState(ApiError):
    status = 405
    default_message = "Action not allowed in the current state"


def _printable(value: Any) -> Any:
    """The given value as JSON can carry it: integers past 64 bits and bytes are echoed as strings."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX:
        return str(value)
    if isinstance(value, dict):
        return {str(k): _printable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_printable(v) for v in value]
    if isinstance(value, bytes):  # a body FastAPI did not parse: echoed as text, never a 500
        return value.decode("utf-8", "replace")
    return value


class ErrorTree:
    """The 422 `details` tree: mirrors the payload; arrays by index as a string; leaves are error lists."""

    def __init__(self) -> None:
        self.root: dict[str, Any] = {}

    def add(
        self,
        path: Sequence[str | int],
        value: Any,
        error: str,
        message: str | None = None,
        options: dict[str, Any] | None = None,
    ) -> None:
        """Record `error` for the field at `path` (an empty path means `base`)."""
        node = self.root
        keys = [str(p) for p in path] or ["base"]
        for key in keys[:-1]:
            child = node.setdefault(key, {})
            if isinstance(child, list):  # a field with its own errors and nested ones: keep both
                child = node[key] = {"base": child}
            node = child
        leaf = node.setdefault(keys[-1], [])
        if isinstance(leaf, dict):
            leaf = leaf.setdefault("base", [])
        leaf.append(
            {
                "value": _printable(value),
                "error": error,
                "options": options or {},
                "message": message or _MESSAGES.get(error, error.replace("_", " ")),
            }
        )

    def __bool__(self) -> bool:
        return bool(self.root)


class InvalidParameters(ApiError):
    """422 with the details tree."""

    status = 422
    default_message = "Invalid parameters"

    def __init__(self, tree: ErrorTree) -> None:
        super().__init__()
        self.tree = tree

    def body(self) -> dict[str, Any]:
        return {"error": self.message, "details": self.tree.root}


def tree_from_pydantic(errors: Sequence[Any], strip_prefix: int = 0) -> ErrorTree:
    """Translate pydantic's error list into the spec's tree (dropping the first `strip_prefix` loc parts)."""
    tree = ErrorTree()
    for err in errors:
        kind = err["type"]
        key = _PYDANTIC_TO_SPEC.get(kind, kind)
        ctx = dict(err.get("ctx") or {})
        ctx.pop("error", None)
        options: dict[str, Any] = {}
        if key in {"size_too_small", "greater_or_equal_to"}:
            options = {"number": ctx.get("min_length", ctx.get("ge"))}
        elif key in {"size_too_large", "less_or_equal_to"}:
            options = {"number": ctx.get("max_length", ctx.get("le"))}
        elif kind not in _PYDANTIC_TO_SPEC:
            options = ctx
        value = None if key == "presence" else err.get("input")
        message = err["msg"] if kind not in _PYDANTIC_TO_SPEC and key not in _MESSAGES else None
        if message is None and key in {"greater_or_equal_to", "less_or_equal_to"}:
            message = _MESSAGES[key].replace("%{number}", str(options["number"]))
        tree.add(list(err["loc"])[strip_prefix:], value, key, message, options)
    return tree
