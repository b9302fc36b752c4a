"""LC-level endpoints 25-29 of spec §2: services, merge properties, settings, history, sender identities."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api import permits
from api.bodies import (
    History,
    MergePropertyList,
    SenderIdentityEnvelope,
    SenderIdentityList,
    ServiceList,
    SettingsEnvelope,
)
from api.http import JsonResponse
from api.routes.auth import authenticate, require
from api.routes.deps import Conn, Id, PageNo, PerPage
from api.schemas import ChannelType, CreateSenderIdentityRequest
from api.service import settings as service
from api.tokens import Caller
from shared.domain import INT64_MAX, INT64_MIN

router = APIRouter(tags=["settings"])
ChannelTypeQuery = Annotated[list[ChannelType] | None, Query(alias="type[]")]


@router.get("/v1/messages/services", response_model=ServiceList)
async def list_services(caller: Annotated[Caller, Depends(authenticate)]) -> JsonResponse:
    """List Messaging Services: those this token may use (any valid token may ask)."""
    return JsonResponse(service.services_of(caller))


@router.get("/v1/messages/merge_properties", response_model=MergePropertyList)
async def list_merge_properties(
    conn: Conn, caller: Annotated[Caller, Depends(require(permits.MESSAGES_GET))]
) -> JsonResponse:
    """List Merge Properties: member fields, member property keys seen in the LC, reserved names."""
    return JsonResponse(await service.merge_properties(conn, caller))


@router.get("/v1/messages/settings", response_model=SettingsEnvelope)
async def show_settings(conn: Conn, caller: Annotated[Caller, Depends(require(permits.SETTINGS_SHOW))]) -> JsonResponse:
    """Show Messaging Settings: the LC's channel defaults; a channel it cannot use is null."""
    return JsonResponse({"settings": await service.messaging_settings(conn, caller)})


@router.get("/v1/messages_history", response_model=History)
async def messaging_history(
    conn: Conn,
    caller: Annotated[Caller, Depends(require(permits.MESSAGES_HISTORY_LIST))],
    member_id: Annotated[int, Query(ge=INT64_MIN, le=INT64_MAX)],
    types: ChannelTypeQuery = None,
    per_page: PerPage = 100,
    page_no: PageNo = 1,
) -> JsonResponse:
    """Messaging History: a member's messages, newest first; cleaned ones show no content."""
    return JsonResponse(await service.messaging_history(conn, caller, member_id, types, per_page, page_no))


@router.get("/v1/messages/sender_identities", response_model=SenderIdentityList)
async def list_sender_identities(
    conn: Conn,
    caller: Annotated[Caller, Depends(require(permits.SETTINGS_SHOW))],
    per_page: PerPage = 100,
    page_no: PageNo = 1,
) -> JsonResponse:
    """Sender identities the LC approved for sms."""
    return JsonResponse(await service.list_sender_identities(conn, caller, per_page, page_no))


@router.post("/v1/messages/sender_identities", status_code=201, response_model=SenderIdentityEnvelope)
async def create_sender_identity(
    body: CreateSenderIdentityRequest, conn: Conn, caller: Annotated[Caller, Depends(require(permits.MESSAGES_UPDATE))]
) -> JsonResponse:
    """Approve an sms sender; from then on sms senders must be approved ones."""
    identity = await service.create_sender_identity(conn, caller, body.sender_identity)
    return JsonResponse({"sender_identity": identity}, status_code=201)


@router.delete("/v1/messages/sender_identities/{identity_id:int}", response_model=SenderIdentityEnvelope)
async def delete_sender_identity(
    identity_id: Id, conn: Conn, caller: Annotated[Caller, Depends(require(permits.MESSAGES_UPDATE))]
) -> JsonResponse:
    """Remove an approved sender."""
    return JsonResponse({"sender_identity": await service.delete_sender_identity(conn, caller, identity_id)})
