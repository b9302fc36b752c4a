"""Webhook signature verification, in constant time."""

import hashlib
import hmac

SANDBOX_SIGNATURE_HEADER = "X-Sandbox-Signature"


def sandbox_signature_valid(secret: str, body: bytes, header: str | None) -> bool:
    """The sandbox signs the raw body: `sha256=<hex HMAC-SHA256>`."""
    if not header:
        return False
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header.strip())
