"""The parts every email provider builds alike: the `From` kept by dispatches, and the preheader."""

from __future__ import annotations

import pytest

from shared.email_address import from_header, split_from
from transmitter.providers.mail import PREHEADER_STYLE, html_with_preheader

NAMES = ["Acme, Inc.", "A; B", 'Say "hei"', "Butikken Øst", "A <b>", "Shop"]


@pytest.mark.parametrize("name", NAMES)
def test_a_display_name_comes_back_whole_with_the_address(name: str) -> None:
    assert split_from(from_header(name, "shop@example.com")) == (name, "shop@example.com")


def test_without_a_name_the_from_is_the_address() -> None:
    assert from_header(None, "shop@example.com") == "shop@example.com"
    assert split_from("shop@example.com") == ("", "shop@example.com")


def test_names_with_specials_are_quoted() -> None:
    assert from_header("Acme, Inc.", "shop@example.com") == '"Acme, Inc." <shop@example.com>'
    assert from_header("Shop", "shop@example.com") == "Shop <shop@example.com>"


def test_a_from_prepared_before_names_were_quoted_is_still_read_whole() -> None:
    assert split_from("Acme, Inc. <shop@example.com>") == ("Acme, Inc.", "shop@example.com")
    assert split_from("A; B <shop@example.com>") == ("A; B", "shop@example.com")


def test_the_preheader_opens_the_body_hidden_and_escaped() -> None:
    hidden = f'<span style="{PREHEADER_STYLE}">1 &lt; 2 &amp; more</span>'
    assert html_with_preheader("<p>Hei</p>", "1 < 2 & more") == hidden + "<p>Hei</p>"
    document = '<html><head><title>T</title></head><BODY class="x"><p>Hei</p></BODY></html>'
    assert html_with_preheader(document, "1 < 2 & more") == (
        f'<html><head><title>T</title></head><BODY class="x">{hidden}<p>Hei</p></BODY></html>'
    )
    assert html_with_preheader("<p>Hei</p>", None) == "<p>Hei</p>"
    assert html_with_preheader("<p>Hei</p>", "") == "<p>Hei</p>"
