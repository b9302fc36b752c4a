"""Webhook signature verification, in constant time."""

import base64
import hashlib
import hmac
from collections.abc import Sequence

SANDBOX_SIGNATURE_HEADER = "X-Sandbox-Signature"


def sandbox_signature_valid(secret: str, body: bytes, header: str | None) -> bool:
    """The sandbox signs the raw body: `sha256=<hex HMAC-SHA256>`."""
    if not header:
        return False
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header.strip())


TWILIO_SIGNATURE_HEADER = "X-Twilio-Signature"


def twilio_signature(auth_token: str, url: str, params: Sequence[tuple[str, str]]) -> str:
    """Twilio's scheme: base64 HMAC-SHA1, keyed with the auth token, of the full public URL followed by each
    POST parameter's name and value, sorted by name."""
    data = url + "".join(f"{k}{v}" for k, v in sorted(params, key=lambda kv: kv[0]))
    return base64.b64encode(hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def twilio_signature_valid(auth_token: str, url: str, params: Sequence[tuple[str, str]], header: str | None) -> bool:
    if not header or not auth_token:
        return False
    return hmac.compare_digest(twilio_signature(auth_token, url, params), header.strip())
