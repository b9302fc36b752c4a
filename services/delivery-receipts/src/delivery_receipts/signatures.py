"""Webhook signature verification, in constant time."""

import base64
import hashlib
import hmac
import time
from collections.abc import Sequence

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

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


SENDGRID_SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
SENDGRID_TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"


def sendgrid_signature_valid(
    public_key: str, body: bytes, signature: str | None, timestamp: str | None, tolerance_seconds: float = 300
) -> bool:
    """SendGrid's signed event webhook: ECDSA (P-256, SHA-256) over the timestamp header followed by the raw
    body, checked with the account's verification key (base64 DER). A timestamp older or newer than the
    tolerance is refused, so a captured request cannot be replayed later."""
    if not (public_key and signature and timestamp):
        return False
    try:
        if abs(time.time() - float(timestamp)) > tolerance_seconds:
            return False
        key = serialization.load_der_public_key(base64.b64decode(public_key))
        if not isinstance(key, ec.EllipticCurvePublicKey):
            return False
        key.verify(base64.b64decode(signature), timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True
