"""Audiences [ext]: endpoint 30 of spec §2."""

from typing import Annotated

from fastapi import APIRouter, Depends

from api import permits
from api.bodies import AudienceEnvelope, AudienceList
from api.http import JsonResponse
from api.routes.auth import require
from api.routes.deps import Conn, Id, PageNo, PerPage
from api.schemas import AudienceRequest
from api.service import audiences as service
from api.tokens import Caller

router = APIRouter(prefix="/v1/audiences", tags=["audiences"])
Permitted = Annotated[Caller, Depends(require(permits.MESSAGES_CREATE))]


@router.get("", response_model=AudienceList)
async def list_audiences(conn: Conn, caller: Permitted, per_page: PerPage = 100, page_no: PageNo = 1) -> JsonResponse:
    """Named audiences of the LC (inline ones stored for sendings are reachable by id only)."""
    return JsonResponse(await service.list_audiences(conn, caller, per_page, page_no))


@router.post("", status_code=201, response_model=AudienceEnvelope)
async def create_audience(body: AudienceRequest, conn: Conn, caller: Permitted) -> JsonResponse:
    """Create an audience; its conditions are checked against the grammar now, never at preparation."""
    return JsonResponse({"audience": await service.create_audience(conn, caller, body.audience)}, status_code=201)


@router.get("/{audience_id:int}", response_model=AudienceEnvelope)
async def show_audience(audience_id: Id, conn: Conn, caller: Permitted) -> JsonResponse:
    return JsonResponse({"audience": await service.show_audience(conn, caller, audience_id)})


@router.put("/{audience_id:int}", response_model=AudienceEnvelope)
async def update_audience(audience_id: Id, body: AudienceRequest, conn: Conn, caller: Permitted) -> JsonResponse:
    """Partial update of the name and conditions."""
    return JsonResponse({"audience": await service.update_audience(conn, caller, audience_id, body.audience)})


@router.delete("/{audience_id:int}", response_model=AudienceEnvelope)
async def delete_audience(audience_id: Id, conn: Conn, caller: Permitted) -> JsonResponse:
    """Soft delete; 405 while a sending that may still run uses it."""
    return JsonResponse({"audience": await service.delete_audience(conn, caller, audience_id)})
