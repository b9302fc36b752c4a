"""Email over SMTP to an aiosmtpd server on 127.0.0.1: every dispatch arrives as a valid MIME message with the
rendered subject and bodies; a refused recipient fails its dispatch with the server's reason; a display name
with `,` or `;` stays one name."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

import asyncpg
from tests.e2e.emails import create_email_message, create_email_sending, prepare
from tests.e2e.providers import REFUSED, Inbox, TwilioServer, announce, running_services, wait_transmitted
from tests.seed import create_lc_row

from shared.unsubscribe import Unsubscription, verify_unsubscribe
from transmitter.providers.mail import PREHEADER_STYLE

EMAILS = 60
UNSUBSCRIBE_SECRET = "unsubscribe-test-secret"


# Long: one story told end to end through the real processes; split, each part would need the whole stack again
async def test_every_email_arrives_as_a_valid_mime_message(
    database_url: str,
    db: asyncpg.Pool,
    twilio_broker: str,
    twilio_server: TwilioServer,
    smtp_server: tuple[Inbox, int],
    tmp_path: Path,
) -> None:
    inbox, port = smtp_server
    async with db.acquire() as conn:
        lc_id = await create_lc_row(conn, "smtp")
        template_id = await conn.fetchval(
            "INSERT INTO templates (loyalty_club_id, type, content) VALUES ($1, 'email', '{}') RETURNING id", lc_id
        )
        message_id = await conn.fetchval(
            "INSERT INTO messages (loyalty_club_id, service, name, marketing) VALUES ($1, 'generic', 'E', true) "
            "RETURNING id",
            lc_id,
        )
        await conn.execute(
            "INSERT INTO channels (message_id, position, type, template_id) VALUES ($1, 0, 'email', $2)",
            message_id,
            template_id,
        )
        sending_id = await conn.fetchval(
            "INSERT INTO sendings (loyalty_club_id, message_id, status, scheduled_at) "
            "VALUES ($1, $2, 'prepared', now()) RETURNING id",
            lc_id,
            message_id,
        )
        rows = await conn.fetch(
            "INSERT INTO dispatches (sending_id, loyalty_club_id, recipient_key, type, content, email, member_id, "
            "scheduled_at) "
            "SELECT $1, $2, 'member:' || i, 'email', jsonb_build_object('subject', 'Tilbud på æøå ' || i, "
            "'body', '<p>Hei <b>nr ' || i || '</b></p>', 'preheader', 'Bare i dag', "
            "'from', 'Butikken Øst <shop@example.com>'), "
            "CASE WHEN i = 1 THEN $4 ELSE 'm' || i || '@example.com' END, i, now() "
            "FROM generate_series(1, $3) AS i RETURNING id",
            sending_id,
            lc_id,
            EMAILS,
            REFUSED,
        )
    extra = {"EMAIL_PROVIDER": "smtp", "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port),
             "UNSUBSCRIBE_URL": "https://shop.example/unsubscribe",
             "UNSUBSCRIBE_SECRET": UNSUBSCRIBE_SECRET}  # fmt: skip
    async with running_services(database_url, twilio_broker, twilio_server, db, tmp_path / "log", **extra):
        await announce(twilio_broker, sending_id, sorted(r["id"] for r in rows))

        await wait_transmitted(db, sending_id, 60, "the emails sent over SMTP")
    assert len(inbox.messages) == EMAILS - 1
    provider_ids = {r["email"]: r["provider_message_id"] for r in await db.fetch(
        "SELECT email, provider_message_id FROM dispatches WHERE sending_id = $1", sending_id)}  # fmt: skip
    for envelope, raw in inbox.messages:
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        number = envelope.rcpt_tos[0].removeprefix("m").removesuffix("@example.com")
        assert envelope.rcpt_tos == [f"m{number}@example.com"]
        assert parsed["Subject"] == f"Tilbud på æøå {number}"
        assert parsed["From"].addresses[0].display_name == "Butikken Øst"
        assert parsed["From"].addresses[0].addr_spec == "shop@example.com"
        assert parsed["Message-ID"] == provider_ids[envelope.rcpt_tos[0]]
        assert envelope.mail_from == "shop@example.com"
        link = parsed["List-Unsubscribe"].removeprefix("<https://shop.example/unsubscribe?t=").removesuffix(">")
        assert verify_unsubscribe(UNSUBSCRIBE_SECRET, link) == Unsubscription(lc_id, int(number), "email")
        assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert parsed.get_content_type() == "multipart/alternative"
        text, html = (part.get_content() for part in parsed.iter_parts())
        assert text.strip() == f"Hei nr {number}"
        assert html.strip() == f'<span style="{PREHEADER_STYLE}">Bare i dag</span><p>Hei <b>nr {number}</b></p>'
    refused = await db.fetchrow("SELECT transmission_status, error FROM dispatches WHERE email = $1", REFUSED)
    assert refused is not None
    assert refused["transmission_status"] == "failed"
    assert refused["error"].startswith("provider_rejected: 550")


async def test_a_from_name_with_a_comma_or_semicolon_arrives_whole_and_the_envelope_sender_is_the_address(
    database_url: str,
    db: asyncpg.Pool,
    twilio_broker: str,
    twilio_server: TwilioServer,
    smtp_server: tuple[Inbox, int],
    tmp_path: Path,
) -> None:
    inbox, port = smtp_server
    names = {"acme@example.com": "Acme, Inc.", "ab@example.com": "A; B", "quoted@example.com": 'Say "hei"'}
    async with db.acquire() as conn:
        lc_id = await create_lc_row(conn, "smtp-from")
        sendings = [
            await create_email_sending(
                conn, lc_id, await create_email_message(conn, lc_id, name, marketing=False), emails=[to]
            )
            for to, name in names.items()
        ]
    extra = {"EMAIL_PROVIDER": "smtp", "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port)}
    async with running_services(database_url, twilio_broker, twilio_server, db, tmp_path / "log", **extra):
        for sending_id in sendings:
            await prepare(db, twilio_broker, sending_id)
            await wait_transmitted(db, sending_id, 60, f"sending {sending_id} sent over SMTP")
    received = {}
    for envelope, raw in inbox.messages:
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        received[envelope.rcpt_tos[0]] = (
            envelope.mail_from,
            [(a.display_name, a.addr_spec) for a in parsed["From"].addresses],
        )
    assert received == {to: ("shop@example.com", [(name, "shop@example.com")]) for to, name in names.items()}
