"""The sandbox provider's receipt signature, written by the transmitter and checked by delivery-receipts."""

import hashlib
import hmac

SANDBOX_SIGNATURE_HEADER = "X-Sandbox-Signature"


def sandbox_signature(secret: str, body: bytes) -> str:
    """`sha256=<hex HMAC-SHA256>` of the raw body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def sandbox_signature_valid(secret: str, body: bytes, header: str | None) -> bool:
    """In constant time: the header is the body's signature under `secret`."""
    if not header:
        return False
    return hmac.compare_digest(sandbox_signature(secret, body), header.strip())
