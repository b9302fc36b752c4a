"""Liveness and readiness probes."""

import contextlib

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.bodies import Status
from api.http import JsonResponse
from api.repository import sendings
from api.routes.deps import runtime_of
from shared.health import liveness, readiness
from shared.heartbeats import ready_services
from shared.metrics import SENDINGS, exposition

router = APIRouter(tags=["health"])

# Every service a sending passes through; /readyz/pipeline waits for a ready instance of each.
PIPELINE_SERVICES = ("api", "scheduler", "preparer", "transmitter", "delivery-receipts")


@router.get("/healthz", response_model=Status)
async def healthz(request: Request) -> JsonResponse:
    """The process is alive (503 once it failed and is stopping, so it is restarted)."""
    status, body = liveness(runtime_of(request))
    return JsonResponse(body, status_code=status)


@router.get("/readyz", response_model=Status)
async def readyz(request: Request) -> JsonResponse:
    """200 while this process can serve: the database answers and its consumers have partitions."""
    status, body = await readiness(runtime_of(request))
    return JsonResponse(body, status_code=status)


@router.get("/readyz/pipeline", response_model=Status)
async def pipeline_ready(request: Request) -> JsonResponse:
    """200 once every service a sending passes through has a live, ready instance (`make up` waits on it)."""
    try:
        ready = await ready_services(runtime_of(request).pool)
    except Exception as exc:
        return JsonResponse({"error": f"database unavailable: {type(exc).__name__}"}, status_code=503)
    missing = [s for s in PIPELINE_SERVICES if s not in ready]
    if missing:
        return JsonResponse({"error": "not ready", "waiting_for": missing}, status_code=503)
    return JsonResponse({"status": "ready"})


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus metrics of this process, and the sendings by status (from the database)."""
    with contextlib.suppress(Exception):  # the database's state is a bonus; the process metrics always answer
        async with runtime_of(request).pool.acquire() as conn:
            counts = await sendings.count_by_status(conn)
        for status, count in counts.items():
            SENDINGS.labels(status).set(count)
    body, content_type = exposition()
    return Response(body, headers={"Content-Type": content_type})
