"""Unsubscribe tokens: only the secret makes one, and a token with anything changed names nobody."""

from __future__ import annotations

import base64

import pytest

from delivery_receipts.unsubscribe import is_one_click
from shared.unsubscribe import Unsubscription, sign_unsubscribe, unsubscribe_link, verify_unsubscribe

SECRET = "s3cret"
KARI = Unsubscription(loyalty_club_id=3, member_id=42, channel="email")


def test_a_token_names_the_member_it_was_made_for() -> None:
    token = sign_unsubscribe(SECRET, KARI)
    assert verify_unsubscribe(SECRET, token) == KARI
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."), "URL-safe as it is"


def test_a_token_of_another_secret_or_no_secret_names_nobody() -> None:
    token = sign_unsubscribe("another", KARI)
    assert verify_unsubscribe(SECRET, token) is None
    assert verify_unsubscribe("", sign_unsubscribe(SECRET, KARI)) is None
    with pytest.raises(ValueError, match="UNSUBSCRIBE_SECRET"):
        sign_unsubscribe("", KARI)


def test_every_changed_character_is_refused() -> None:
    token = sign_unsubscribe(SECRET, KARI)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for i, char in enumerate(token):
        if char == ".":
            continue
        for other in alphabet.replace(char, "")[:8]:
            assert verify_unsubscribe(SECRET, token[:i] + other + token[i + 1 :]) is None, (i, other)
    assert verify_unsubscribe(SECRET, token + "=") is None, "one token, one spelling"


def test_another_members_payload_under_a_valid_mac_is_refused() -> None:
    payload, mac = sign_unsubscribe(SECRET, KARI).split(".")
    other = base64.urlsafe_b64encode(b"u1:3:43:email").rstrip(b"=").decode()
    assert verify_unsubscribe(SECRET, f"{other}.{mac}") is None
    assert verify_unsubscribe(SECRET, f"{payload}.{mac}") == KARI


@pytest.mark.parametrize("token", ["", ".", "a.b", "x" * 500, "a.b.c", "%%%.%%%", "dTE6.AAAA"])
def test_garbage_is_refused(token: str) -> None:
    assert verify_unsubscribe(SECRET, token) is None


def test_the_link_adds_the_token_to_the_url() -> None:
    token = sign_unsubscribe(SECRET, KARI)
    assert unsubscribe_link("https://r.example/unsubscribe", SECRET, KARI) == f"https://r.example/unsubscribe?t={token}"
    assert unsubscribe_link("https://r.example/u?lc=3", SECRET, KARI) == f"https://r.example/u?lc=3&t={token}"


def test_one_click_is_read_from_either_form_encoding_rfc_8058_allows() -> None:
    assert is_one_click("application/x-www-form-urlencoded", b"List-Unsubscribe=One-Click")
    multipart = b'--b\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\nOne-Click\r\n--b--\r\n'
    assert is_one_click('multipart/form-data; boundary="b"', multipart)
    assert not is_one_click("application/x-www-form-urlencoded", b"")
    assert not is_one_click("application/x-www-form-urlencoded", b"List-Unsubscribe=Maybe")
    assert not is_one_click('multipart/form-data; boundary="b"', multipart.replace(b"One-Click", b"No"))
