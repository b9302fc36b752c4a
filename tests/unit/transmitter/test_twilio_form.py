"""The form the Twilio adapter writes by hand reads back as exactly the fields a form encoder would have sent."""

from __future__ import annotations

import urllib.parse

import pytest

from shared.domain import DispatchId
from transmitter.providers.base import Outgoing
from transmitter.providers.twilio import TwilioSms

CALLBACK = "https://receipts.example.com/webhooks/twilio"
BODIES = ["Hei", "", "Hei æøå 👋 & = + % ? #\n ny linje", "a&To=%2B1&From=evil", "50 % off: https://x.example/?a=1&b=2"]
NUMBERS = ["4790000001", "+4790000001", "47 900 00 001", "\uff14\uff17\uff19"]  # the last: digits, not ASCII ones
SENDERS = ["Acme", "Acme & Co", "+4790000009", ""]


def message(number: str, body: str, sender: str | None) -> Outgoing:
    return Outgoing(DispatchId(987654321), "sms", number, {"body": body}, sender)


async def fields(provider: TwilioSms, outgoing: Outgoing) -> list[tuple[str, str]]:
    try:
        raw = provider.body(outgoing).decode("ascii")  # a form is ASCII only
    finally:
        await provider.close()
    return urllib.parse.parse_qsl(raw, keep_blank_values=True, strict_parsing=True)


@pytest.mark.parametrize("body", BODIES)
@pytest.mark.parametrize("number", NUMBERS)
@pytest.mark.parametrize("sender", SENDERS)
async def test_the_form_holds_recipient_body_sender_and_our_dispatch_id(number: str, body: str, sender: str) -> None:
    provider = TwilioSms("https://api.twilio.com", "AC1", "token", CALLBACK)
    assert await fields(provider, message(number, body, sender)) == [
        ("To", "+" + number.lstrip("+")),
        ("Body", body),
        ("From", sender),
        ("StatusCallback", f"{CALLBACK}?d=987654321"),
    ]


async def test_a_messaging_service_replaces_the_sender() -> None:
    provider = TwilioSms("https://api.twilio.com", "AC1", "token", CALLBACK, messaging_service_sid="MG 1&2")
    assert await fields(provider, message("4790000001", "Hei", "Acme")) == [
        ("To", "+4790000001"),
        ("Body", "Hei"),
        ("MessagingServiceSid", "MG 1&2"),
        ("StatusCallback", f"{CALLBACK}?d=987654321"),
    ]
