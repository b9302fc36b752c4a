"""Sendings and their dispatches: endpoints 9-14 of spec §2."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from api import permits
from api.bodies import DispatchList, DispatchMemberList, PreviewEnvelope, SendingEnvelope
from api.http import JsonResponse
from api.routes.auth import require
from api.routes.deps import Conn, Id, OptionalBigint, PageNo, PerPage, runtime_of
from api.schemas import CreateSendingRequest, UpdateSendingRequest, one_of
from api.service import sendings as service
from api.tokens import Caller, service_of

router = APIRouter(prefix="/v1/messages", tags=["sendings"])
SendingsGet = Annotated[Caller, Depends(require(permits.SENDINGS_GET))]
SendingsUpdate = Annotated[Caller, Depends(require(permits.SENDINGS_UPDATE))]


@router.post("/{service_name:service}/{message_id:int}/sendings", status_code=201, response_model=SendingEnvelope)
async def create_sending(
    service_name: str,
    message_id: Id,
    body: CreateSendingRequest,
    conn: Conn,
    caller: Annotated[Caller, Depends(require(permits.SENDINGS_CREATE))],
) -> JsonResponse:
    """Create Sending of an existing message."""
    sending = await service.create_sending(conn, caller, service_of(caller, service_name), message_id, body.sending)
    return JsonResponse({"sending": sending}, status_code=201)


@router.post("/{service_name:service}/{message_id:int}/sendings/preview", response_model=PreviewEnvelope)
async def preview_sending(
    service_name: str,
    message_id: Id,
    body: CreateSendingRequest,
    conn: Conn,
    request: Request,
    caller: Annotated[Caller, Depends(require(permits.SENDINGS_CREATE))],
) -> JsonResponse:
    """Preview Sending: the same body as Create; counts per channel, samples and a duration; stores nothing."""
    settings = runtime_of(request).settings
    preview = await service.preview_sending(
        conn, caller, service_of(caller, service_name), message_id, body.sending, settings
    )
    return JsonResponse({"preview": preview})


@router.get("/{service_name:service}/sendings/{sending_id:int}", response_model=SendingEnvelope)
async def show_sending(service_name: str, sending_id: Id, conn: Conn, caller: SendingsGet) -> JsonResponse:
    """Show Sending, with its dispatch ledger in `stats`."""
    sending = await service.show_sending(conn, caller, service_of(caller, service_name), sending_id)
    return JsonResponse({"sending": sending})


@router.put("/{service_name:service}/sendings/{sending_id:int}", response_model=SendingEnvelope)
async def update_sending(
    service_name: str, sending_id: Id, body: UpdateSendingRequest, conn: Conn, caller: SendingsUpdate
) -> JsonResponse:
    """Update Sending: only draft or scheduled ones (405 otherwise); `schedule: null` makes it a draft."""
    sending = await service.update_sending(conn, caller, service_of(caller, service_name), sending_id, body.sending)
    return JsonResponse({"sending": sending})


@router.put("/{service_name:service}/sendings/{sending_id:int}/cancel", response_model=SendingEnvelope)
async def cancel_sending(service_name: str, sending_id: Id, conn: Conn, caller: SendingsUpdate) -> JsonResponse:
    """Cancel Sending: scheduled or executing ones (405 otherwise)."""
    sending = await service.cancel_sending(conn, caller, service_of(caller, service_name), sending_id)
    return JsonResponse({"sending": sending})


@router.get("/{service_name:service}/sendings/{sending_id:int}/dispatches", response_model=DispatchList)
async def list_sending_dispatches(
    service_name: str,
    sending_id: Id,
    conn: Conn,
    caller: Annotated[Caller, Depends(require(permits.DISPATCHES_LIST))],
    per_page: PerPage = 100,
    page_no: PageNo = 1,
    transmission_status: Annotated[str, one_of("scheduled", "transmitted", "failed")] | None = None,
    delivery_status: Annotated[str, one_of("pending", "delivered", "failed")] | None = None,
    member_id: OptionalBigint = None,
    msisdn: str | None = None,
    email: str | None = None,
    app_token: str | None = None,
) -> JsonResponse:
    """List Sending Dispatches, filtered and paginated."""
    filters: dict[str, Any] = {
        "transmission_status": transmission_status, "delivery_status": delivery_status, "member_id": member_id,
        "msisdn": msisdn, "email": email, "app_token": app_token,
    }  # fmt: skip
    page = await service.list_sending_dispatches(
        conn, caller, service_of(caller, service_name), sending_id, filters, per_page, page_no
    )
    return JsonResponse(page)


@router.get("/{service_name:service}/sendings/{sending_id:int}/dispatches/members", response_model=DispatchMemberList)
async def list_sending_members(
    service_name: str,
    sending_id: Id,
    conn: Conn,
    caller: Annotated[Caller, Depends(require(permits.DISPATCHES_MEMBERS_INDEX))],
    per_page: PerPage = 100,
    page_no: PageNo = 1,
) -> JsonResponse:
    """List Sending Members: the distinct members the sending reached."""
    page = await service.list_sending_members(
        conn, caller, service_of(caller, service_name), sending_id, per_page, page_no
    )
    return JsonResponse(page)
