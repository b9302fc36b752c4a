"""Provider webhooks: verify, store in the inbox, answer; the `delivery.status` announcement follows.

A 2xx is sent only once the receipt is committed, so a provider that got one never needs to send it again, and
a report it sends again anyway (a retry) is a duplicate of the one stored."""

import urllib.parse
from collections.abc import Sequence

import orjson
from fastapi import APIRouter, Request
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.responses import Response

from delivery_receipts.receipts import (
    Malformed,
    Receipt,
    normalize_generic_receipt,
    normalize_sandbox_receipt,
    normalize_sendgrid_events,
    normalize_twilio_callback,
)
from delivery_receipts.service import accept_receipts, count_foreign, count_malformed
from delivery_receipts.signatures import (
    SENDGRID_SIGNATURE_HEADER,
    SENDGRID_TIMESTAMP_HEADER,
    TWILIO_SIGNATURE_HEADER,
    sendgrid_signature_valid,
    twilio_signature_valid,
)
from delivery_receipts.state import runtime_of, settings_of
from shared.formats import utcnow
from shared.health import liveness, readiness
from shared.metrics import exposition, update_consumer_lag
from shared.sandbox import SANDBOX_SIGNATURE_HEADER, sandbox_signature_valid

router = APIRouter()


def _error(status: int, message: str) -> Response:
    return Response(orjson.dumps({"error": message}), status_code=status, media_type="application/json")


async def _accept(request: Request, receipts: list[Receipt], malformed: Sequence[Malformed] = ()) -> Response:
    """Store the receipts (committed before the answer), announce the new ones, count what was unreadable in
    their batch (once stored: a batch that failed to store comes again), answer 204."""
    runtime = runtime_of(request)
    await accept_receipts(runtime.pool, runtime.broker, receipts)
    count_malformed(malformed)
    return Response(status_code=204)


@router.post("/webhooks/sandbox", status_code=204)
async def sandbox_receipt(request: Request) -> Response:
    """A signed receipt from the sandbox provider; a bad signature changes nothing (401)."""
    body = await request.body()
    settings = settings_of(request)
    if not sandbox_signature_valid(
        settings.sandbox_webhook_secret, body, request.headers.get(SANDBOX_SIGNATURE_HEADER)
    ):
        return _error(401, "invalid signature")
    try:
        receipt = normalize_sandbox_receipt(orjson.loads(body))
    except (orjson.JSONDecodeError, KeyError, ValueError, TypeError):
        return _error(422, "malformed receipt")
    return await _accept(request, [receipt])


@router.post("/webhooks/twilio", status_code=204)
async def twilio_callback(request: Request) -> Response:
    """A Twilio status callback, signed with `X-Twilio-Signature` over our public URL and the form fields."""
    body = await request.body()
    settings = settings_of(request)
    try:
        params = urllib.parse.parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=bool(body))
    except (UnicodeDecodeError, ValueError):
        return _error(401, "invalid signature")
    url = settings.receipts_public_url.rstrip("/") + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    if not twilio_signature_valid(
        settings.twilio_auth_token, url, params, request.headers.get(TWILIO_SIGNATURE_HEADER)
    ):
        return _error(401, "invalid signature")
    fields = dict(params)
    if settings.twilio_account_sid and fields.get("AccountSid") != settings.twilio_account_sid:
        await count_foreign(runtime_of(request).pool, "twilio")  # not ours: dropped, counted
        return Response(status_code=204)
    try:
        receipt = normalize_twilio_callback(fields, request.query_params, utcnow())
    except (KeyError, ValueError):
        return _error(422, "malformed status callback")
    return await _accept(request, [receipt])


@router.post("/webhooks/sendgrid", status_code=204)
async def sendgrid_events(request: Request) -> Response:
    """SendGrid's signed event webhook (ECDSA over timestamp + body, 5-minute tolerance). An event that cannot be
    read is logged, counted and dropped; the rest of the batch is stored and the batch answered 204."""
    body = await request.body()
    key = settings_of(request).sendgrid_webhook_public_key
    signature = request.headers.get(SENDGRID_SIGNATURE_HEADER)
    if not sendgrid_signature_valid(key, body, signature, request.headers.get(SENDGRID_TIMESTAMP_HEADER)):
        return _error(401, "invalid signature")
    try:
        receipts, malformed = normalize_sendgrid_events(orjson.loads(body))
    except (orjson.JSONDecodeError, TypeError):  # not an array of events at all
        return _error(422, "malformed events")
    return await _accept(request, receipts, malformed)


@router.post("/webhooks/generic", status_code=204)
async def generic_receipt(request: Request) -> Response:
    """A receipt signed the Standard Webhooks way (`webhook-id`, `webhook-timestamp`, `webhook-signature`;
    HMAC-SHA256 of `id.timestamp.body`; older or newer than 5 minutes is refused)."""
    body = await request.body()
    secret = settings_of(request).generic_webhook_secret
    if not secret:
        return _error(401, "invalid signature")
    try:
        payload = Webhook(secret).verify(body, dict(request.headers))
    except WebhookVerificationError:
        return _error(401, "invalid signature")
    try:
        receipt = normalize_generic_receipt(payload, request.headers["webhook-id"], utcnow())
    except (KeyError, ValueError, TypeError):
        return _error(422, "malformed receipt")
    return await _accept(request, [receipt])


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    """Prometheus metrics of this process (with the lag of its receipts consumer)."""
    await update_consumer_lag(runtime_of(request).broker)
    body, content_type = exposition()
    return Response(body, headers={"Content-Type": content_type})


@router.get("/healthz")
async def healthz(request: Request) -> Response:
    status, body = liveness(runtime_of(request))
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


@router.get("/readyz")
async def readyz(request: Request) -> Response:
    """200 while webhooks can be taken: the database answers and the receipts consumer has partitions."""
    status, body = await readiness(runtime_of(request))
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")
