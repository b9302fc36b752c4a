"""Messages: endpoints 1-8 of spec §2."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from api import permits
from api.bodies import MessageEnvelope, MessageList, OverviewEnvelope, SendingList
from api.http import JsonResponse
from api.routes.auth import require
from api.routes.deps import Conn, Id, OptionalBigint, PageNo, PerPage
from api.schemas import CreateMessageRequest, UpdateMessageRequest, one_of
from api.service import messages as service
from api.service import sendings
from api.tokens import Caller, service_of

router = APIRouter(prefix="/v1/messages", tags=["messages"])


@router.post("/{service_name:service}", status_code=201, response_model=MessageEnvelope)
async def create_message(
    service_name: str,
    body: CreateMessageRequest,
    conn: Conn,
    caller: Annotated[Caller, Depends(require(permits.MESSAGES_CREATE))],
) -> JsonResponse:
    """Create Message, optionally with its first sending."""
    message = await service.create_message(conn, caller, service_of(caller, service_name), body.message)
    return JsonResponse({"message": message}, status_code=201)


@router.get("/{service_name:service}", response_model=MessageList)
async def list_messages(
    service_name: str,
    conn: Conn,
    caller: Annotated[Caller, Depends(require(permits.MESSAGES_LIST))],
    per_page: PerPage = 100,
    page_no: PageNo = 1,
    sendings_status: Annotated[str, one_of("draft", "scheduled", "finished")] | None = None,
    campaign_id: OptionalBigint = None,
    archived: bool = False,
    search: str | None = None,
    sort_by: Annotated[str, one_of("created_at", "updated_at", "name", "id")] = "created_at",
    sort_direction: Annotated[str, one_of("asc", "desc")] = "asc",
    null_position: Annotated[str, one_of("first", "last")] | None = None,
) -> JsonResponse:
    """List Messages; `archived=true` lists deleted ones."""
    filters: dict[str, Any] = {
        "sendings_status": sendings_status, "campaign_id": campaign_id, "archived": archived, "search": search,
        "sort_by": sort_by, "sort_direction": sort_direction, "null_position": null_position,
    }  # fmt: skip
    page = await service.list_messages(conn, caller, service_of(caller, service_name), filters, per_page, page_no)
    return JsonResponse(page)


@router.get("/{service_name:service}/overview", response_model=OverviewEnvelope)
async def messages_overview(
    service_name: str, conn: Conn, caller: Annotated[Caller, Depends(require(permits.MESSAGES_LIST))]
) -> JsonResponse:
    """List Messages Overview: counts per aggregated status and dispatch totals."""
    return JsonResponse({"overview": await service.overview(conn, caller, service_of(caller, service_name))})


@router.get("/{service_name:service}/{message_id:int}", response_model=MessageEnvelope)
async def show_message(
    service_name: str,
    message_id: Id,
    conn: Conn,
    caller: Annotated[Caller, Depends(require(permits.MESSAGES_GET))],
) -> JsonResponse:
    """Show Message."""
    message = await service.show_message(conn, caller, service_of(caller, service_name), message_id)
    return JsonResponse({"message": message})


@router.put("/{service_name:service}/{message_id:int}", response_model=MessageEnvelope)
async def update_message(
    service_name: str,
    message_id: Id,
    body: UpdateMessageRequest,
    conn: Conn,
    caller: Annotated[Caller, Depends(require(permits.MESSAGES_UPDATE))],
) -> JsonResponse:
    """Update Message: partial; null clears; channels replaced by type."""
    message = await service.update_message(conn, caller, service_of(caller, service_name), message_id, body.message)
    return JsonResponse({"message": message})


@router.put("/{service_name:service}/{message_id:int}/duplicate", status_code=201, response_model=MessageEnvelope)
async def duplicate_message(
    service_name: str,
    message_id: Id,
    conn: Conn,
    caller: Annotated[Caller, Depends(require(permits.MESSAGES_CREATE))],
) -> JsonResponse:
    """Duplicate Message (without its sendings)."""
    message = await service.duplicate_message(conn, caller, service_of(caller, service_name), message_id)
    return JsonResponse({"message": message}, status_code=201)


@router.delete("/{service_name:service}/{message_id:int}", response_model=MessageEnvelope)
async def delete_message(
    service_name: str,
    message_id: Id,
    conn: Conn,
    caller: Annotated[Caller, Depends(require(permits.MESSAGES_DESTROY))],
) -> JsonResponse:
    """Delete Message, with its sendings; executing ones are cancelled."""
    message = await service.delete_message(conn, caller, service_of(caller, service_name), message_id)
    return JsonResponse({"message": message})


@router.get("/{service_name:service}/{message_id:int}/sendings", response_model=SendingList)
async def list_message_sendings(
    service_name: str,
    message_id: Id,
    conn: Conn,
    caller: Annotated[Caller, Depends(require(permits.SENDINGS_GET))],
    per_page: PerPage = 100,
    page_no: PageNo = 1,
) -> JsonResponse:
    """List Message Sendings."""
    page = await sendings.list_message_sendings(
        conn, caller, service_of(caller, service_name), message_id, per_page, page_no
    )
    return JsonResponse(page)
