"""Bulk operations: endpoint 16 of spec §2."""

from typing import Annotated

from fastapi import APIRouter, Depends

from api import permits
from api.bodies import BulkResults
from api.http import JsonResponse
from api.routes.auth import require
from api.routes.deps import Conn
from api.schemas import BulkRequest
from api.service.bulks import process_bulk
from api.tokens import Caller

router = APIRouter(prefix="/v1/messages", tags=["bulks"])


@router.post("/bulks", response_model=BulkResults)
async def bulk_operations(
    body: BulkRequest, conn: Conn, caller: Annotated[Caller, Depends(require(permits.BULKS_PROCESS))]
) -> JsonResponse:
    """Up to ten operations in one transaction; 470 with the results up to the first failure, nothing kept."""
    status, results = await process_bulk(conn, caller, body.operations)
    return JsonResponse(results, status_code=status)
