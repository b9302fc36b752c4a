"""Sendings requested by other platform services through Kafka (events spec §1): validated exactly like the HTTP
endpoints (the same request models and service functions, so the same rules and 422 trees), one sending per LC
and `request_id` however often a request is delivered, and a `sending.rejected` for every refused one."""

from typing import Any
from uuid import NAMESPACE_URL, uuid5

import asyncpg
import structlog
from pydantic import ValidationError

from api import permits
from api.errors import ApiError, ErrorTree, InvalidParameters, NotFound, tree_from_pydantic
from api.repository import requests as repository
from api.schemas import CreateMessageRequest, CreateSendingRequest
from api.service import messages, sendings
from api.tokens import Caller, service_of
from shared.db import Conn
from shared.domain import LoyaltyClubId, SendingId
from shared.events import SendingRejected, SendingRequested

log = structlog.get_logger(__name__)

# What a requesting service may do: create messages and sendings, set a priority, in the services it may use.
REQUEST_PERMITS = frozenset({permits.MESSAGES_CREATE, permits.SENDINGS_CREATE, permits.SENDINGS_SET_PRIORITY})


def caller_of(event: SendingRequested, lc_id: LoyaltyClubId, services: dict[str, list[str]]) -> Caller:
    """The request's producer as a caller: every service unless `services` (producer → service names) says less."""
    allowed = services.get(event.requested_by)
    usable = [s for s in permits.SERVICES.values() if allowed is None or s.name in allowed]
    granted = REQUEST_PERMITS | {s.permit for s in usable}
    return Caller(client_id=0, lc_id=lc_id, lc_slug=event.lc, permits=frozenset(map(permits.normalize_permit, granted)))


def _validated(model: type[CreateSendingRequest] | type[CreateMessageRequest], body: dict[str, Any]) -> Any:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise InvalidParameters(tree_from_pydantic(exc.errors())) from exc


async def _create(conn: Conn, caller: Caller, event: SendingRequested) -> SendingId:
    """The request's sending, through the same service functions as HTTP (422 and every other refusal alike)."""
    service = service_of(caller, event.service)
    if event.message is not None:
        request = _validated(CreateMessageRequest, {"message": event.message})
        if request.message.sending is None:
            tree = ErrorTree()
            tree.add(["message", "sending"], None, "presence", "must be present")
            raise InvalidParameters(tree)
        message = await messages.create_message(conn, caller, service, request.message)
        assert message.latest_sending is not None
        return SendingId(message.latest_sending.id)
    if event.message_id is None:
        tree = ErrorTree()
        tree.add(["message_id"], None, "presence", "must be present (or a message)")
        raise InvalidParameters(tree)
    request = _validated(CreateSendingRequest, {"sending": event.sending})
    created = await sendings.create_sending(conn, caller, service, event.message_id, request.sending)
    return SendingId(created.id)


async def request_sending(
    conn: Conn, event: SendingRequested, services: dict[str, list[str]]
) -> SendingRejected | None:
    """Create the request's sending unless it exists; the refusal to publish when the request is invalid."""
    lc_id = await repository.loyalty_club_id(conn, event.lc)
    try:
        if lc_id is None:
            raise NotFound(f"Unknown loyalty club {event.lc!r}")
        async with conn.transaction():
            if await repository.sending_of_request(conn, lc_id, event.request_id) is not None:
                return None  # delivered again: its sending exists
            sending_id = await _create(conn, caller_of(event, lc_id, services), event)
            await repository.mark_requested(conn, sending_id, event.request_id)
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name != "sendings_by_request":
            raise
        return None  # the same request, created at this moment by another consumer
    except ApiError as exc:
        log.info("sending_request_rejected", request_id=event.request_id, lc=event.lc, error=exc.message)
        return rejection(event, exc)
    log.info("sending_requested", request_id=event.request_id, lc=event.lc, sending_id=sending_id)
    return None


def rejection(event: SendingRequested, error: ApiError) -> SendingRejected:
    body = error.body()
    return SendingRejected(
        event_id=uuid5(NAMESPACE_URL, f"sending.rejected:{event.lc}:{event.request_id}"),
        request_id=event.request_id,
        lc=event.lc,
        service=event.service,
        error=body["error"],
        details=body.get("details"),
    )
