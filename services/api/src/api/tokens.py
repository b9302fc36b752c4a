"""Who calls and with which token: the caller a request authenticated as, API tokens and their hashes, and
the `{service}` a caller may act for. Nothing here is HTTP: the api's services take a `Caller`; reading it from a
request is `api.routes.auth`."""

import hashlib
import secrets
from dataclasses import dataclass

from api.errors import Forbidden, NotFound
from api.permits import SERVICES, Service, normalize_permit
from shared.domain import LoyaltyClubId


@dataclass(frozen=True)
class Caller:
    """Who is calling: the API client, the LC it acts for, and what it may do."""

    client_id: int
    lc_id: LoyaltyClubId
    lc_slug: str
    permits: frozenset[str]

    def may(self, permit: str) -> bool:
        return normalize_permit(permit) in self.permits


def new_token() -> str:
    """A fresh random API token (shown once, stored only as its hash)."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def service_of(caller: Caller, name: str) -> Service:
    """The `{service}` path segment: 404 when unknown, 403 without its UseService permit."""
    service = SERVICES.get(name)
    if service is None:
        raise NotFound(f"Unknown service {name!r}")
    if not caller.may(service.permit):
        raise Forbidden("Unauthorized to set specific Service")
    return service
