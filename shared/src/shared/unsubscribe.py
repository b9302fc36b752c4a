"""Signed unsubscribe links: the transmitter puts one in every marketing email to a member (`List-Unsubscribe`),
delivery-receipts verifies it and withdraws that member's marketing consent for the channel.

A token is `<payload>.<mac>`, both URL-safe base64 without padding: the payload names the LC, the member and the
channel, the mac is HMAC-SHA256 of it under `UNSUBSCRIBE_SECRET`. Nobody without the secret can make one for
another member, and a token with any byte changed is refused. Tokens do not expire: a link in a mail read months
later must still work (RFC 8058, and the bulk-sender rules of the mailbox providers).
"""

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass

VERSION = "u1"
CHANNELS = ("sms", "email", "push")
_PAYLOAD = re.compile(rf"^{VERSION}:(?P<lc>[1-9][0-9]{{0,18}}):(?P<member>[0-9]{{1,19}}):(?P<channel>sms|email|push)$")
MAX_TOKEN_LENGTH = 200  # far above any token we make: anything longer is refused before it is decoded


@dataclass(frozen=True)
class Unsubscription:
    """Whose marketing consent for which channel a link withdraws."""

    loyalty_club_id: int
    member_id: int
    channel: str


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, payload: bytes) -> bytes:
    return hmac.new(secret.encode(), b"unsubscribe\x00" + payload, hashlib.sha256).digest()


def sign_unsubscribe(secret: str, target: Unsubscription) -> str:
    """The token of `target`, under `secret` (which must not be empty)."""
    if not secret:
        raise ValueError("an unsubscribe token needs UNSUBSCRIBE_SECRET")
    if target.channel not in CHANNELS:
        raise ValueError(f"unknown channel {target.channel!r}")
    payload = f"{VERSION}:{target.loyalty_club_id}:{target.member_id}:{target.channel}".encode()
    return f"{_b64(payload)}.{_b64(_mac(secret, payload))}"


def verify_unsubscribe(secret: str, token: str) -> Unsubscription | None:
    """Whom a token names, or None when it was not made with `secret` (forged, changed, malformed)."""
    if not secret or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 1:
        return None
    encoded_payload, encoded_mac = token.split(".")
    try:
        payload, mac = _unb64(encoded_payload), _unb64(encoded_mac)
    except (binascii.Error, ValueError):
        return None
    # The mac is checked before the payload is read; then only the canonical spelling of a token is taken (base64
    # leaves spare bits in its last character, and padding may be added: neither may make a second valid token).
    if not hmac.compare_digest(mac, _mac(secret, payload)):
        return None
    if _b64(payload) != encoded_payload or _b64(mac) != encoded_mac:
        return None
    match = _PAYLOAD.match(payload.decode("ascii", errors="replace"))
    if match is None:
        return None
    return Unsubscription(int(match["lc"]), int(match["member"]), match["channel"])


def unsubscribe_link(base_url: str, secret: str, target: Unsubscription) -> str:
    """`base_url` with the token of `target` as its `t` query parameter."""
    separator = "&" if "?" in base_url else "?"
    return f"{base_url}{separator}t={sign_unsubscribe(secret, target)}"
