"""Bulk operations (spec §2.4): up to ten creates, updates and deletes, all or nothing, in one transaction."""

from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel, ValidationError

from api import permits
from api.errors import ApiError, Forbidden, InvalidParameters, NotFound, tree_from_pydantic
from api.schemas import (
    BulkOperation,
    CreateMessageRequest,
    CreateSendingRequest,
    UpdateMessageRequest,
    UpdateSendingRequest,
)
from api.service import messages, sendings
from api.tokens import Caller, service_of
from shared.db import Conn

# (type, entity) → the permit it needs and what it runs; a sending's `delete` cancels it.
Runner = Callable[[Conn, Caller, dict[str, Any], Any], Awaitable[tuple[int, dict[str, Any]]]]
PERMITS = {
    ("create", "message"): permits.MESSAGES_CREATE,
    ("update", "message"): permits.MESSAGES_UPDATE,
    ("delete", "message"): permits.MESSAGES_DESTROY,
    ("create", "sending"): permits.SENDINGS_CREATE,
    ("update", "sending"): permits.SENDINGS_UPDATE,
    ("delete", "sending"): permits.SENDINGS_UPDATE,
}
BODIES: dict[tuple[str, str], type[BaseModel]] = {
    ("create", "message"): CreateMessageRequest,
    ("update", "message"): UpdateMessageRequest,
    ("create", "sending"): CreateSendingRequest,
    ("update", "sending"): UpdateSendingRequest,
}


class _Failed(Exception):
    """Raised inside the transaction to roll back everything done so far."""


def _int_param(params: dict[str, Any], name: str) -> int:
    value = params.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise NotFound(f"params.{name} must name an existing resource")
    return value


async def _run(conn: Conn, caller: Caller, operation: BulkOperation) -> tuple[int, dict[str, Any]]:
    key = (operation.type, operation.entity)
    if not caller.may(PERMITS[key]):
        raise Forbidden(f"Missing permit {PERMITS[key]}")
    service = service_of(caller, str(operation.params.get("service", "")))
    body: Any = None
    if key in BODIES:
        try:
            body = BODIES[key].model_validate(operation.payload or {})
        except ValidationError as exc:
            raise InvalidParameters(tree_from_pydantic(exc.errors())) from exc
    match key:
        case ("create", "message"):
            return 201, {"message": await messages.create_message(conn, caller, service, body.message)}
        case ("update", "message"):
            found = await messages.update_message(
                conn, caller, service, _int_param(operation.params, "id"), body.message
            )
            return 200, {"message": found}
        case ("delete", "message"):
            return 200, {
                "message": await messages.delete_message(conn, caller, service, _int_param(operation.params, "id"))
            }
        case ("create", "sending"):
            message_id = _int_param(operation.params, "message_id")
            return 201, {"sending": await sendings.create_sending(conn, caller, service, message_id, body.sending)}
        case ("update", "sending"):
            updated = await sendings.update_sending(
                conn, caller, service, _int_param(operation.params, "id"), body.sending
            )
            return 200, {"sending": updated}
        case _:
            return 200, {
                "sending": await sendings.cancel_sending(conn, caller, service, _int_param(operation.params, "id"))
            }


async def process_bulk(conn: Conn, caller: Caller, operations: list[BulkOperation]) -> tuple[int, dict[str, Any]]:
    """(200, results) when every operation succeeded; else (470, results up to the failing one), nothing kept."""
    results: list[dict[str, Any]] = []
    try:
        async with conn.transaction():
            for operation in operations:
                try:
                    status, body = await _run(conn, caller, operation)
                except ApiError as exc:
                    status, body = exc.status, exc.body()
                results.append({**operation.model_dump(), "response": {"status": status, "body": body}})
                if status >= 400:
                    raise _Failed
    except _Failed:
        return 470, {"results": results}
    return 200, {"results": results}
