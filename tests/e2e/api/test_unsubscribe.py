"""One-click unsubscribe (RFC 8058) end to end: the `List-Unsubscribe` link of a marketing email, as the SMTP
server received it, POSTed the way a mailbox provider does, withdraws the member's consent in PostgreSQL, and the
next sending to the same audience suppresses the member; a tampered or guessed link changes nothing."""

from __future__ import annotations

import base64
import email
import email.policy
from pathlib import Path

import aiohttp
import asyncpg
from tests.e2e.emails import EVERY_MEMBER_WITH_EMAIL, create_email_message, create_email_sending, prepare
from tests.e2e.providers import Inbox, TwilioServer, running_services, wait_transmitted
from tests.seed import create_lc_row

SECRET = "unsubscribe-test-secret"
ONE_CLICK = {"Content-Type": "application/x-www-form-urlencoded"}
MEMBERS = {1: "kari@example.com", 2: "ola@example.com"}


def unsubscribe_links(inbox: Inbox) -> dict[str, str]:
    """Each recipient's `List-Unsubscribe` URL, as it arrived."""
    links = {}
    for envelope, raw in inbox.messages:
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        links[envelope.rcpt_tos[0]] = str(parsed["List-Unsubscribe"]).removeprefix("<").removesuffix(">")
    return links


def tampered(link: str) -> list[str]:
    """The link with another member's id in its payload (the mac kept), with its mac changed, and the old
    guessable `?d=<dispatch id>` form."""
    base, token = link.split("?t=")
    payload, mac = token.split(".")
    decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
    other = decoded.replace(":2:", ":1:")
    assert other != decoded
    swapped = base64.urlsafe_b64encode(other.encode()).rstrip(b"=").decode()
    flipped = mac[:5] + ("A" if mac[5] != "A" else "B") + mac[6:]
    return [f"{base}?t={swapped}.{mac}", f"{base}?t={payload}.{flipped}", f"{base}?d=1", base]


async def email_consents(db: asyncpg.Pool) -> dict[int, object]:
    rows = await db.fetch("SELECT id, consents #> '{email_marketing,status}' AS status FROM members ORDER BY id")
    return {r["id"]: r["status"] for r in rows}


# Long: one story told end to end through the real processes; split, each part would need the whole stack again
async def test_a_one_click_post_of_the_emails_link_withdraws_the_consent_and_the_next_sending_suppresses_the_member(
    database_url: str,
    db: asyncpg.Pool,
    twilio_broker: str,
    twilio_server: TwilioServer,
    smtp_server: tuple[Inbox, int],
    tmp_path: Path,
) -> None:
    inbox, port = smtp_server
    async with db.acquire() as conn:
        lc_id = await create_lc_row(conn, "unsubscribe")
        await conn.executemany(
            "INSERT INTO members (loyalty_club_id, id, email, properties, consents) VALUES ($1, $2, $3, $4, $5)",
            [(lc_id, i, address, {"name": address.split("@")[0]}, {"email_marketing": {"status": True}})
             for i, address in MEMBERS.items()],
        )  # fmt: skip
        message_id = await create_email_message(conn, lc_id, "Shop", marketing=True)
        first = await create_email_sending(conn, lc_id, message_id, audience=EVERY_MEMBER_WITH_EMAIL)
    extra = {"EMAIL_PROVIDER": "smtp", "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port), "UNSUBSCRIBE_SECRET": SECRET}
    log = tmp_path / "log"
    async with (
        running_services(database_url, twilio_broker, twilio_server, db, log, **extra) as running,
        aiohttp.ClientSession() as http,
    ):
        await prepare(db, twilio_broker, first)
        await wait_transmitted(db, first, 60, "the first marketing email sent over SMTP")
        links = unsubscribe_links(inbox)
        assert set(links) == set(MEMBERS.values())
        assert links["kari@example.com"].startswith(f"{running.receipts_url}/unsubscribe?t=")

        async with http.get(links["kari@example.com"]) as response:  # what a mail scanner or a click does
            assert response.status == 200
            assert '<form method="post">' in await response.text()
        for forged in tampered(links["ola@example.com"]):
            async with http.post(forged, data="List-Unsubscribe=One-Click", headers=ONE_CLICK) as response:
                assert response.status == 400, forged
            async with http.get(forged) as response:
                assert response.status == 400, forged
        async with http.post(links["ola@example.com"], data="", headers=ONE_CLICK) as response:
            assert response.status == 400, "a POST that does not ask for one-click unsubscribe"
        assert await email_consents(db) == {1: True, 2: True}, "nothing changed yet"

        async with http.post(links["kari@example.com"], data="List-Unsubscribe=One-Click", headers=ONE_CLICK) as r:
            assert r.status == 200
        assert await email_consents(db) == {1: False, 2: True}

        inbox.messages.clear()
        async with db.acquire() as conn:
            second = await create_email_sending(conn, lc_id, message_id, audience=EVERY_MEMBER_WITH_EMAIL)
        await prepare(db, twilio_broker, second)
        await wait_transmitted(db, second, 60, "the second marketing email sent over SMTP")
    assert [envelope.rcpt_tos for envelope, _ in inbox.messages] == [["ola@example.com"]]
    counts = await db.fetchrow("SELECT dispatches_count, suppressed_count FROM sendings WHERE id = $1", second)
    assert counts is not None
    assert (counts["dispatches_count"], counts["suppressed_count"]) == (1, 1)
