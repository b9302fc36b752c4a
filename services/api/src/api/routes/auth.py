"""Tenant headers and token auth of spec §1.1, as FastAPI dependencies."""

from collections.abc import Awaitable, Callable

import structlog
from fastapi import Request

from api.errors import Forbidden, InvalidHeader, MissingHeader, Unauthenticated
from api.permits import normalize_permit
from api.repository import clients
from api.routes.deps import Conn
from api.tokens import Caller, hash_token
from shared.domain import LoyaltyClubId

REQUIRED_HEADERS = ("X-User-Agent", "X-Product-Name", "X-Loyalty-Club-Slug")


def _token(request: Request) -> str | None:
    token = request.headers.get("X-Client-Authorization")
    if token:
        return token.strip()
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


async def authenticate(request: Request, conn: Conn) -> Caller:
    """Check the tenant headers and the token; 470, 401 or 471 as the spec says.

    Uses the request's own connection: taking a second one from the pool while holding the first
    deadlocks the pool under load.
    """
    for header in REQUIRED_HEADERS:
        if not request.headers.get(header, "").strip():
            raise MissingHeader(f"Missing required header {header}")
    token = _token(request)
    if token is None:
        raise Unauthenticated("Missing API token")
    slug = request.headers["X-Loyalty-Club-Slug"].strip()
    row = await clients.find_caller(conn, slug, hash_token(token))
    if row is None:
        raise InvalidHeader(f"Unknown loyalty club {slug!r} in X-Loyalty-Club-Slug")
    if row.client_id is None or not row.allowed:
        raise Unauthenticated("Invalid API token for this loyalty club")
    permits = frozenset(normalize_permit(p) for p in row.permits or ())
    # Each request runs in its own task, so this binding stays with this request's log lines.
    structlog.contextvars.bind_contextvars(lc=slug, lc_id=row.lc_id, client_id=row.client_id)
    return Caller(client_id=row.client_id, lc_id=LoyaltyClubId(row.lc_id), lc_slug=slug, permits=permits)


def require(permit: str) -> Callable[[Request, Conn], Awaitable[Caller]]:
    """Dependency: an authenticated caller holding `permit` (else 403)."""

    async def dependency(request: Request, conn: Conn) -> Caller:
        caller = await authenticate(request, conn)
        if not caller.may(permit):
            raise Forbidden(f"Missing permit {permit}")
        return caller

    return dependency
