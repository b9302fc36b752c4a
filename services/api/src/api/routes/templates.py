"""Standalone templates and bee templates: endpoints 17-24 of spec §2.

Included before the messages router, though `{service_name:service}` matches only the spec's services, so
`/v1/messages/templates` is never taken for a service named "templates".
"""

from typing import Annotated

import asyncpg
from fastapi import APIRouter, Depends, Query

from api import permits
from api.bodies import BeeTemplateEnvelope, BeeTemplateList, TagList, TemplateEnvelope, TemplateList
from api.http import JsonResponse
from api.routes.auth import require
from api.routes.deps import Id, PageNo, PerPage, connection
from api.service import templates as service
from api.tokens import Caller

router = APIRouter(prefix="/v1/messages", tags=["templates"])
Conn = Annotated[asyncpg.Connection, Depends(connection)]
TypeFilter = Annotated[service.TemplateType | None, Query(alias="type")]


@router.get("/templates", response_model=TemplateList)
async def list_templates(
    conn: Conn,
    caller: Annotated[Caller, Depends(require(permits.TEMPLATES_LIST))],
    per_page: PerPage = 100,
    page_no: PageNo = 1,
    template_type: TypeFilter = None,
    search: str | None = None,
) -> JsonResponse:
    """List Templates, filtered by type and by text in name or content."""
    filters = {"type": template_type, "search": search}
    return JsonResponse(await service.list_templates(conn, caller.lc_id, filters, per_page, page_no))


@router.post("/templates", status_code=201, response_model=TemplateEnvelope)
async def create_template(
    body: service.CreateTemplateRequest,
    conn: Conn,
    caller: Annotated[Caller, Depends(require(permits.TEMPLATES_CREATE))],
) -> JsonResponse:
    """Create Template."""
    template = await service.create_template(conn, caller.lc_id, body.template)
    return JsonResponse({"template": template}, status_code=201)


@router.get("/templates/{template_id:int}", response_model=TemplateEnvelope)
async def show_template(
    template_id: Id, conn: Conn, caller: Annotated[Caller, Depends(require(permits.TEMPLATES_GET))]
) -> JsonResponse:
    """Show Template."""
    return JsonResponse({"template": await service.show_template(conn, caller.lc_id, template_id)})


@router.put("/templates/{template_id:int}", response_model=TemplateEnvelope)
async def update_template(
    template_id: Id,
    body: service.UpdateTemplateRequest,
    conn: Conn,
    caller: Annotated[Caller, Depends(require(permits.TEMPLATES_UPDATE))],
) -> JsonResponse:
    """Update Template: the keys given, nothing else."""
    template = await service.update_template(conn, caller.lc_id, template_id, body.template)
    return JsonResponse({"template": template})


@router.delete("/templates/{template_id:int}", response_model=TemplateEnvelope)
async def destroy_template(
    template_id: Id, conn: Conn, caller: Annotated[Caller, Depends(require(permits.TEMPLATES_DESTROY))]
) -> JsonResponse:
    """Destroy Template (soft); 405 while a live template uses it as its wrapper."""
    return JsonResponse({"template": await service.destroy_template(conn, caller.lc_id, template_id)})


@router.get("/bee_templates", response_model=BeeTemplateList)
async def list_bee_templates(
    conn: Conn,
    caller: Annotated[Caller, Depends(require(permits.TEMPLATES_LIST))],
    per_page: PerPage = 100,
    page_no: PageNo = 1,
    tag: str | None = None,
    search: str | None = None,
) -> JsonResponse:
    """List Bee Templates, filtered by tag and by text in name or content."""
    filters = {"tag": tag, "search": search}
    return JsonResponse(await service.list_bee_templates(conn, caller.lc_id, filters, per_page, page_no))


@router.get("/bee_templates/tags", response_model=TagList)
async def list_bee_template_tags(
    conn: Conn, caller: Annotated[Caller, Depends(require(permits.TEMPLATES_LIST))]
) -> JsonResponse:
    """List Bee Template Tags of the LC."""
    return JsonResponse({"tags": await service.list_bee_tags(conn, caller.lc_id)})


@router.get("/bee_templates/{template_id:int}", response_model=BeeTemplateEnvelope)
async def show_bee_template(
    template_id: Id, conn: Conn, caller: Annotated[Caller, Depends(require(permits.TEMPLATES_GET))]
) -> JsonResponse:
    """Show Bee Template."""
    return JsonResponse({"bee_template": await service.show_bee_template(conn, caller.lc_id, template_id)})
