"""Our X-Twilio-Signature computation equals the official `twilio` package's, for any parameters."""

from __future__ import annotations

import pytest
from twilio.request_validator import RequestValidator

from delivery_receipts.signatures import twilio_signature, twilio_signature_valid

CASES = [
    ("https://receipts.example.com/webhooks/twilio", {"MessageSid": "SM1", "MessageStatus": "delivered"}),
    ("http://127.0.0.1:8001/webhooks/twilio?lc=acme", {"B": "2", "A": "1", "a": "0", "Body": "Hei æøå 👋 & = +"}),
    ("https://x.example/webhooks/twilio", {}),
]


@pytest.mark.parametrize(("url", "params"), CASES)
def test_the_signature_is_twilios(url: str, params: dict[str, str]) -> None:
    expected = RequestValidator("secret-token").compute_signature(url, params)
    assert twilio_signature("secret-token", url, list(params.items())) == expected
    assert twilio_signature_valid("secret-token", url, list(params.items()), expected)
    assert not twilio_signature_valid("other-token", url, list(params.items()), expected)
    assert not twilio_signature_valid("", url, list(params.items()), expected)
    assert not twilio_signature_valid("secret-token", url + "x", list(params.items()), expected)
