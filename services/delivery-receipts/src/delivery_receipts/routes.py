"""Provider webhooks: verify, publish `delivery.status`, answer at once."""

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from delivery_receipts.service import normalize_sandbox_receipt
from delivery_receipts.signatures import SANDBOX_SIGNATURE_HEADER, sandbox_signature_valid
from shared.kafka import publish_events

router = APIRouter()


def _error(status: int, message: str) -> Response:
    return Response(orjson.dumps({"error": message}), status_code=status, media_type="application/json")


@router.post("/webhooks/sandbox", status_code=204)
async def sandbox_receipt(request: Request) -> Response:
    """A signed receipt from the sandbox provider; a bad signature changes nothing (401)."""
    body = await request.body()
    settings = request.app.state.settings
    if not sandbox_signature_valid(
        settings.sandbox_webhook_secret, body, request.headers.get(SANDBOX_SIGNATURE_HEADER)
    ):
        return _error(401, "invalid signature")
    try:
        event = normalize_sandbox_receipt(orjson.loads(body))
    except (orjson.JSONDecodeError, KeyError, ValueError, TypeError):
        return _error(422, "malformed receipt")
    await publish_events(request.app.state.runtime.broker, [event], lambda e: event.provider_message_id)
    return Response(status_code=204)


@router.get("/healthz")
async def healthz() -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")
