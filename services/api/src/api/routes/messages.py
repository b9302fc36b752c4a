"""Messages and their sendings: endpoints 1, 3, 9, 10 and 13 of spec §2."""

from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Depends

from api import permits
from api.auth import Caller, require, service_of
from api.http import JsonResponse
from api.routes.deps import PageNo, PerPage, connection
from api.schemas import CreateMessageRequest, CreateSendingRequest
from api.service import messages as service

router = APIRouter(prefix="/v1/messages", tags=["messages"])
Conn = Annotated[asyncpg.Connection, Depends(connection)]


@router.post("/{service_name}", status_code=201)
async def create_message(
    service_name: str,
    body: CreateMessageRequest,
    conn: Conn,
    caller: Annotated[Caller, Depends(require(permits.MESSAGES_CREATE))],
) -> JsonResponse:
    """Create Message, optionally with its first sending."""
    message = await service.create_message(conn, caller, service_of(caller, service_name), body.message)
    return JsonResponse({"message": message}, status_code=201)


@router.get("/{service_name}/sendings/{sending_id:int}")
async def show_sending(
    service_name: str,
    sending_id: int,
    conn: Conn,
    caller: Annotated[Caller, Depends(require(permits.SENDINGS_GET))],
) -> JsonResponse:
    """Show Sending, with its dispatch ledger in `stats`."""
    sending = await service.show_sending(conn, caller, service_of(caller, service_name), sending_id)
    return JsonResponse({"sending": sending})


@router.get("/{service_name}/sendings/{sending_id:int}/dispatches")
async def list_sending_dispatches(
    service_name: str,
    sending_id: int,
    conn: Conn,
    caller: Annotated[Caller, Depends(require(permits.DISPATCHES_LIST))],
    per_page: PerPage = 100,
    page_no: PageNo = 1,
    transmission_status: str | None = None,
    delivery_status: str | None = None,
    member_id: int | None = None,
    msisdn: str | None = None,
    email: str | None = None,
    app_token: str | None = None,
) -> JsonResponse:
    """List Sending Dispatches, filtered and paginated."""
    filters: dict[str, Any] = {
        "transmission_status": transmission_status,
        "delivery_status": delivery_status,
        "member_id": member_id,
        "msisdn": msisdn,
        "email": email,
        "app_token": app_token,
    }
    page = await service.list_sending_dispatches(
        conn, caller, service_of(caller, service_name), sending_id, filters, per_page, page_no
    )
    return JsonResponse(page)


@router.get("/{service_name}/{message_id:int}")
async def show_message(
    service_name: str,
    message_id: int,
    conn: Conn,
    caller: Annotated[Caller, Depends(require(permits.MESSAGES_GET))],
) -> JsonResponse:
    """Show Message."""
    message = await service.show_message(conn, caller, service_of(caller, service_name), message_id)
    return JsonResponse({"message": message})


@router.post("/{service_name}/{message_id:int}/sendings", status_code=201)
async def create_sending(
    service_name: str,
    message_id: int,
    body: CreateSendingRequest,
    conn: Conn,
    caller: Annotated[Caller, Depends(require(permits.SENDINGS_CREATE))],
) -> JsonResponse:
    """Create Sending of an existing message."""
    sending = await service.create_sending(conn, caller, service_of(caller, service_name), message_id, body.sending)
    return JsonResponse({"sending": sending}, status_code=201)
