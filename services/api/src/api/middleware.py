"""ASGI middleware of the API: Idempotency-Key on POST (spec §1.4) and the per-LC rate limit.

Both work on the raw request, before routing: they need only headers, path and body.
"""

import hashlib
import math
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson
import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.repository import idempotency
from shared.db import Conn

log = structlog.get_logger(__name__)

IDEMPOTENCY_HEADER = b"idempotency-key"
# Without one of these the request is answered 470 (spec §1.1), never with a stored answer.
TENANT_HEADERS = (b"x-user-agent", b"x-product-name", b"x-loyalty-club-slug")
MAX_KEY_LENGTH = 255
# A retry that arrives while the first request still runs waits this long for its answer, then gets 409.
KEY_WAIT_SECONDS = 10
# Where an idempotent request's connection travels in the ASGI scope (routes/deps.py `connection` takes it).
REQUEST_CONNECTION = "messaging.connection"


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def _json(
    send: Send, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    payload = orjson.dumps(body)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None when it is larger than `limit`."""
    chunks, size, more = [], 0, True
    while more:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def _is_json(content_type: str | None) -> bool:
    # No Content-Type is not JSON either: FastAPI would hand such a body to validation as raw bytes.
    if content_type is None:
        return False
    media = content_type.split(";")[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def _has_nul(value: Any) -> bool:
    """True if a NUL character is anywhere in a parsed JSON value (PostgreSQL text cannot hold one)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any("\x00" in k or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


NUL_ERROR = {
    "error": "Invalid parameters",
    "details": {"base": [{"value": None, "error": "invalid", "options": {},
                          "message": "NUL characters are not allowed in text"}]},
}  # fmt: skip


@dataclass
class BodyLimitMiddleware:
    """Guards every body before anything parses it.

    Over the limit ⇒ 413; a media type other than JSON, or none, ⇒ 415; not strict JSON (invalid UTF-8, lone
    surrogates, nesting past orjson's limit, numbers past 64 bits) ⇒ 400 with an empty body. The rest get
    the body replayed.
    """

    app: ASGIApp
    max_body_bytes: int

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and ("\x00" in scope["path"] or b"%00" in scope["query_string"]):
            await _json(send, 422, NUL_ERROR)
            return
        if scope["type"] != "http" or scope["method"] not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        body = None if declared and declared.isdigit() and int(declared) > self.max_body_bytes else (
            await _read_body(receive, self.max_body_bytes)
        )  # fmt: skip
        if body is None:
            await _json(send, 413, {"error": f"Request body larger than {self.max_body_bytes} bytes"})
            return
        if body and not _is_json(_header(scope, b"content-type")):
            await _json(send, 415, {"error": "Content-Type must be application/json"})
            return
        if body:
            try:
                parsed = orjson.loads(body)
                # Re-encoded by orjson: integers past 64 bits become floats, as every later step expects.
                body = orjson.dumps(parsed)
            except orjson.JSONDecodeError:
                await send({"type": "http.response.start", "status": 400, "headers": [(b"content-length", b"0")]})
                await send({"type": "http.response.body", "body": b""})
                return
            if _has_nul(parsed):
                await _json(send, 422, NUL_ERROR)
                return
        await self.app(scope, _replay(body), send)


class _Discarded(Exception):
    """A 5xx answer: everything the request wrote is rolled back with its key, so a retry may succeed."""

    def __init__(self, messages: list[Message]) -> None:
        super().__init__("5xx")
        self.messages = messages


@dataclass
class IdempotencyMiddleware:
    """Same key + same request within 24 h ⇒ the stored answer; the same key with another request ⇒ 422.

    The request runs inside the transaction that claims its key, on that transaction's connection
    (`REQUEST_CONNECTION`), and its answer is stored in the same transaction: the key, what the request wrote and
    its answer commit together, or not at all. A process that dies before the commit leaves nothing behind, so the
    client's retry runs afresh; a retry that arrives while the first request still runs waits for it (up to
    `KEY_WAIT_SECONDS`, else 409) and gets its answer. A 5xx answer rolls everything back and is not stored. Keys
    are scoped per LC and token; a request without the tenant headers is left to the app (470), key or not.
    """

    app: ASGIApp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = _header(scope, IDEMPOTENCY_HEADER) if scope["type"] == "http" and scope["method"] == "POST" else None
        if key is None or not all((_header(scope, name) or "").strip() for name in TENANT_HEADERS):
            await self.app(scope, receive, send)
            return
        if not key.strip() or len(key) > MAX_KEY_LENGTH:
            await _json(send, 422, {"error": f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters"})
            return
        body = await _read_body(receive, limit=2**62)  # already bounded by BodyLimitMiddleware
        assert body is not None
        owner = hashlib.sha256(
            "\0".join(
                _header(scope, h) or "" for h in (b"x-loyalty-club-slug", b"x-client-authorization", b"authorization")
            ).encode()
        ).digest()
        fingerprint = hashlib.sha256(scope["path"].encode() + b"\0" + body).digest()
        stored: idempotency.StoredAnswer | None = None
        messages: list[Message] = []
        async with scope["app"].state.runtime.pool.acquire() as conn:
            try:
                async with conn.transaction():
                    stored = await idempotency.claim(conn, owner, key, fingerprint, KEY_WAIT_SECONDS)
                    if stored is None:
                        messages = await self._run(scope, body, conn)
                        await _store_answer(conn, owner, key, messages)
            except _Discarded as discarded:
                messages = discarded.messages
            except asyncpg.LockNotAvailableError:
                await _json(send, 409, {"error": "A request with this Idempotency-Key is still in progress"})
                return
        if stored is None:
            for message in messages:
                await send(message)
        elif stored.fingerprint != fingerprint:
            await _json(send, 422, {"error": "Idempotency-Key was already used with a different request"})
        else:
            await send(
                {
                    "type": "http.response.start",
                    "status": stored.status,
                    "headers": [
                        (b"content-type", (stored.content_type or "application/json").encode()),
                        (b"idempotent-replayed", b"true"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": stored.body or b""})

    async def _run(self, scope: Scope, body: bytes, conn: Conn) -> list[Message]:
        """Run the request on `conn` and capture its answer (raises `_Discarded` for a 5xx)."""
        messages: list[Message] = []

        async def capture(message: Message) -> None:
            messages.append(message)

        await self.app({**scope, REQUEST_CONNECTION: conn}, _replay(body), capture)
        start = next((m for m in messages if m["type"] == "http.response.start"), None)
        if start is None or start["status"] >= 500:
            raise _Discarded(messages)
        return messages


async def _store_answer(conn: Conn, owner: bytes, key: str, messages: list[Message]) -> None:
    start = next(m for m in messages if m["type"] == "http.response.start")
    content_type = dict(start.get("headers", [])).get(b"content-type", b"").decode()
    payload = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    await idempotency.store_answer(conn, owner, key, start["status"], content_type, payload)


@dataclass
class _Bucket:
    tokens: float
    at: float


@dataclass
class RateLimitMiddleware:
    """A token bucket per LC (by its slug header) in this process: `rate` requests/s, bursts of `burst`."""

    app: ASGIApp
    rate: float
    burst: int
    max_tracked: int = 10_000

    def __post_init__(self) -> None:
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def _take(self, slug: str) -> float:
        """0 when a request may pass now, else the seconds until it may."""
        now = time.monotonic()
        bucket = self._buckets.pop(slug, None) or _Bucket(tokens=self.burst, at=now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.rate)
        bucket.at = now
        self._buckets[slug] = bucket  # most recently used last; the oldest is dropped past max_tracked
        if len(self._buckets) > self.max_tracked:
            self._buckets.popitem(last=False)
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self.rate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        slug = _header(scope, b"x-loyalty-club-slug") if scope["type"] == "http" else None
        if slug is not None and scope["path"].startswith("/v1/"):
            wait = self._take(slug)
            if wait > 0:
                retry_after = str(max(1, math.ceil(wait))).encode()
                await _json(
                    send, 429, {"error": "Rate limit exceeded for this loyalty club"}, [(b"retry-after", retry_after)]
                )
                return
        await self.app(scope, receive, send)
