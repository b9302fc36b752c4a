"""The one `Retry-After` reader of every provider (Twilio, SendGrid, FCM): seconds or an HTTP-date."""

from __future__ import annotations

import time
from email.utils import formatdate

import pytest

from transmitter.providers.base import retry_after


@pytest.mark.parametrize(("header", "seconds"), [("5", 5.0), ("0.5", 0.5), ("0", 0.0), ("-3", 0.0)])
def test_a_number_is_seconds(header: str, seconds: float) -> None:
    assert retry_after(header) == seconds


def test_an_http_date_ahead_is_the_seconds_until_it() -> None:
    ahead = retry_after(formatdate(time.time() + 30, usegmt=True))
    assert ahead is not None
    assert 28 <= ahead <= 30


@pytest.mark.parametrize(
    "header",
    [
        "Wed, 21 Oct 2015 07:28:00 GMT",  # IMF-fixdate (RFC 9110)
        "Wednesday, 21-Oct-15 07:28:00 GMT",  # obsolete RFC 850 form
        "Wed Oct 21 07:28:00 2015",  # obsolete asctime form
    ],
)
def test_an_http_date_already_past_is_no_wait(header: str) -> None:
    assert retry_after(header) == 0.0


@pytest.mark.parametrize("header", [None, "", "soon", "inf", "nan", "-inf", "1e999", "Wed, 32 Oct 2015 07:28:00 GMT"])
def test_anything_else_is_no_advice(header: str | None) -> None:
    assert retry_after(header) is None
