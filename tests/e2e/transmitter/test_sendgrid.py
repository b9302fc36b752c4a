"""Email through a SendGrid-compatible server on 127.0.0.1, and SendGrid's signed event webhook (ECDSA P-256
over timestamp + body, signed here with a key of the test's own, as SendGrid signs with its); the sender's name,
the marketing headers and the preheader as SendGrid gets them; a 429 waited out."""

from __future__ import annotations

import base64
import time
from email.utils import formatdate
from pathlib import Path

import aiohttp
import asyncpg
import orjson
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from tests.e2e.emails import EVERY_MEMBER_WITH_EMAIL, create_email_message, create_email_sending, prepare
from tests.e2e.providers import SendGridServer, TwilioServer, announce, running_services, wait_transmitted
from tests.infra import eventually
from tests.seed import create_lc_row

from shared.unsubscribe import Unsubscription, verify_unsubscribe
from transmitter.providers.mail import PREHEADER_STYLE

EMAILS = 200
API_KEY = "SG.test-key"
UNSUBSCRIBE_SECRET = "unsubscribe-test-secret"


def sendgrid_env(server: SendGridServer, **extra: str) -> dict[str, str]:
    return {"EMAIL_PROVIDER": "sendgrid", "SENDGRID_BASE_URL": server.url, "SENDGRID_API_KEY": API_KEY, **extra}


def signing_env(server: SendGridServer) -> tuple[ec.EllipticCurvePrivateKey, dict[str, str]]:
    """A key for the event webhook's signatures, and the services' settings: SendGrid, checking them."""
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return key, sendgrid_env(server, SENDGRID_WEBHOOK_PUBLIC_KEY=base64.b64encode(public).decode())


def sign(key: ec.EllipticCurvePrivateKey, body: bytes, timestamp: str) -> str:
    return base64.b64encode(key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))).decode()


async def _prepared_email_sending(db: asyncpg.Pool, count: int) -> tuple[int, list[int]]:
    async with db.acquire() as conn:
        lc_id = await create_lc_row(conn, "sendgrid")
        template_id = await conn.fetchval(
            "INSERT INTO templates (loyalty_club_id, type, content) VALUES ($1, 'email', '{}') RETURNING id", lc_id
        )
        message_id = await conn.fetchval(
            "INSERT INTO messages (loyalty_club_id, service, name) VALUES ($1, 'generic', 'E') RETURNING id", lc_id
        )
        await conn.execute(
            "INSERT INTO channels (message_id, position, type, from_email, from_name, template_id) "
            "VALUES ($1, 0, 'email', 'shop@example.com', 'Shop', $2)",
            message_id,
            template_id,
        )
        sending_id: int = await conn.fetchval(
            "INSERT INTO sendings (loyalty_club_id, message_id, status, scheduled_at) "
            "VALUES ($1, $2, 'prepared', now()) RETURNING id",
            lc_id,
            message_id,
        )
        rows = await conn.fetch(
            "INSERT INTO dispatches (sending_id, loyalty_club_id, recipient_key, type, content, email, scheduled_at) "
            "SELECT $1, $2, 'email:' || i, 'email', jsonb_build_object('subject', 'Tilbud ' || i, "
            "'body', '<p>Hei <b>nr ' || i || '</b></p>', 'from', 'Shop <shop@example.com>'), "
            "'m' || i || '@example.com', now() FROM generate_series(1, $3) AS i RETURNING id",
            sending_id,
            lc_id,
            count,
        )
    return sending_id, sorted(r["id"] for r in rows)


# Long: one story told end to end through the real processes; split, each part would need the whole stack again
async def test_email_goes_to_sendgrid_and_signed_events_set_the_delivery_status(
    database_url: str,
    db: asyncpg.Pool,
    twilio_broker: str,
    twilio_server: TwilioServer,
    sendgrid_server: SendGridServer,
    tmp_path: Path,
) -> None:
    key, extra = signing_env(sendgrid_server)
    log = tmp_path / "services.log"
    async with (
        running_services(database_url, twilio_broker, twilio_server, db, log, **extra) as running,
        aiohttp.ClientSession() as http,
    ):
        sending_id, ids = await _prepared_email_sending(db, EMAILS)
        await announce(twilio_broker, sending_id, ids)

        await wait_transmitted(db, sending_id, 60, "the emails transmitted through SendGrid")
        assert len(sendgrid_server.requests) == EMAILS
        assert set(sendgrid_server.authorizations) == {f"Bearer {API_KEY}"}
        first = min(sendgrid_server.requests, key=lambda r: int(r["personalizations"][0]["custom_args"]["dispatch_id"]))
        assert first == {
            "personalizations": [{"to": [{"email": "m1@example.com"}], "custom_args": {"dispatch_id": str(ids[0])}}],
            "from": {"email": "shop@example.com", "name": "Shop"},
            "subject": "Tilbud 1",
            "content": [{"type": "text/plain", "value": "Hei nr 1"},
                        {"type": "text/html", "value": "<p>Hei <b>nr 1</b></p>"}],
        }  # fmt: skip

        events = [{"email": f"m{i}@example.com", "timestamp": int(time.time()), "event": event,
                   "sg_message_id": f"{sendgrid_server.message_ids[str(d)]}.filterdrecv-1-2",
                   "dispatch_id": str(d)}
                  for i, d in enumerate(ids, start=1)
                  for event in ("processed", "open", "delivered" if i % 2 else "bounce")]  # fmt: skip
        body = orjson.dumps(events)
        url = f"{running.receipts_url}/webhooks/sendgrid"
        stamp = str(int(time.time()))
        stale = str(int(time.time()) - 600)
        refused = [
            {"X-Twilio-Email-Event-Webhook-Timestamp": stamp},  # unsigned
            {"X-Twilio-Email-Event-Webhook-Timestamp": stamp, "X-Twilio-Email-Event-Webhook-Signature":
             sign(key, body.replace(b"bounce", b"deliv"), stamp)},  # signed a different body
            {"X-Twilio-Email-Event-Webhook-Timestamp": stale, "X-Twilio-Email-Event-Webhook-Signature":
             sign(key, body, stale)},  # too old
        ]  # fmt: skip
        for headers in refused:
            async with http.post(url, data=body, headers=headers) as response:
                assert response.status == 401
        headers = {"X-Twilio-Email-Event-Webhook-Timestamp": stamp,
                   "X-Twilio-Email-Event-Webhook-Signature": sign(key, body, stamp)}  # fmt: skip
        async with http.post(url, data=body, headers=headers) as response:
            assert response.status == 204, await response.text()

        expected = {d: "delivered" if i % 2 else "failed" for i, d in enumerate(ids, start=1)}

        async def applied() -> bool:
            rows = await db.fetch("SELECT id, delivery_status FROM dispatches WHERE sending_id = $1", sending_id)
            return {r["id"]: r["delivery_status"] for r in rows} == expected

        await eventually(applied, 30, "every SendGrid event applied")


async def test_a_from_name_with_a_comma_or_semicolon_reaches_sendgrid_whole(
    database_url: str,
    db: asyncpg.Pool,
    twilio_broker: str,
    twilio_server: TwilioServer,
    sendgrid_server: SendGridServer,
    tmp_path: Path,
) -> None:
    names = {"acme@example.com": "Acme, Inc.", "ab@example.com": "A; B", "quoted@example.com": 'Say "hei"'}
    async with db.acquire() as conn:
        lc_id = await create_lc_row(conn, "sendgrid-from")
        sendings = [
            await create_email_sending(
                conn, lc_id, await create_email_message(conn, lc_id, name, marketing=False), emails=[to]
            )
            for to, name in names.items()
        ]
    async with running_services(
        database_url, twilio_broker, twilio_server, db, tmp_path / "log", **sendgrid_env(sendgrid_server)
    ):
        for sending_id in sendings:
            await prepare(db, twilio_broker, sending_id)
            await wait_transmitted(db, sending_id, 60, f"sending {sending_id} sent through SendGrid")
    senders = {r["personalizations"][0]["to"][0]["email"]: r["from"] for r in sendgrid_server.requests}
    assert senders == {to: {"email": "shop@example.com", "name": name} for to, name in names.items()}


async def test_marketing_email_carries_one_click_unsubscribe_headers_and_the_preheader(
    database_url: str,
    db: asyncpg.Pool,
    twilio_broker: str,
    twilio_server: TwilioServer,
    sendgrid_server: SendGridServer,
    tmp_path: Path,
) -> None:
    async with db.acquire() as conn:
        lc_id = await create_lc_row(conn, "sendgrid-marketing")
        await conn.execute(
            "INSERT INTO members (loyalty_club_id, id, email, properties, consents) "
            "VALUES ($1, 7, 'kari@example.com', $2, $3)",
            lc_id,
            {"name": "Kari"},
            {"email_marketing": {"status": True}},
        )
        message_id = await create_email_message(conn, lc_id, "Shop", marketing=True)
        sending_id = await create_email_sending(conn, lc_id, message_id, audience=EVERY_MEMBER_WITH_EMAIL)
    extra = sendgrid_env(sendgrid_server, UNSUBSCRIBE_URL="https://shop.example/unsubscribe",
                         UNSUBSCRIBE_SECRET=UNSUBSCRIBE_SECRET)  # fmt: skip
    async with running_services(database_url, twilio_broker, twilio_server, db, tmp_path / "log", **extra):
        await prepare(db, twilio_broker, sending_id)
        await wait_transmitted(db, sending_id, 60, "the marketing email sent through SendGrid")
    (mail,) = sendgrid_server.requests
    link = mail["headers"]["List-Unsubscribe"]
    assert link.startswith("<https://shop.example/unsubscribe?t=")
    token = link.removeprefix("<https://shop.example/unsubscribe?t=").removesuffix(">")
    assert verify_unsubscribe(UNSUBSCRIBE_SECRET, token) == Unsubscription(lc_id, 7, "email")
    assert mail["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mail["content"] == [
        {"type": "text/plain", "value": "Hei Kari"},
        {"type": "text/html", "value": f'<span style="{PREHEADER_STYLE}">Bare i dag</span><p>Hei <b>Kari</b></p>'},
    ]


async def test_a_429_whose_retry_after_is_an_http_date_is_waited_out_and_the_email_transmitted(
    database_url: str,
    db: asyncpg.Pool,
    twilio_broker: str,
    twilio_server: TwilioServer,
    sendgrid_server: SendGridServer,
    tmp_path: Path,
) -> None:
    until: list[float] = []

    def in_two_seconds() -> str:
        until.append(float(int(time.time()) + 2))  # an HTTP-date has whole seconds
        return formatdate(until[-1], usegmt=True)

    sendgrid_server.throttle_once = in_two_seconds
    async with running_services(
        database_url, twilio_broker, twilio_server, db, tmp_path / "log", **sendgrid_env(sendgrid_server)
    ):
        sending_id, ids = await _prepared_email_sending(db, 1)
        await announce(twilio_broker, sending_id, ids)

        await wait_transmitted(db, sending_id, 60, "the throttled email transmitted")
    assert sendgrid_server.throttled == [formatdate(until[0], usegmt=True)]
    outcome = await db.fetchrow("SELECT transmission_status, error FROM dispatches WHERE id = $1", ids[0])
    assert outcome is not None
    assert (outcome["transmission_status"], outcome["error"]) == ("transmitted", None)
    assert len(sendgrid_server.requests) == 1
    assert sendgrid_server.arrivals[1] >= until[0] - 0.05, "tried again only once the date had come"


async def test_a_malformed_event_is_counted_and_dropped_and_the_rest_of_its_batch_is_applied(
    database_url: str,
    db: asyncpg.Pool,
    twilio_broker: str,
    twilio_server: TwilioServer,
    sendgrid_server: SendGridServer,
    tmp_path: Path,
) -> None:
    key, extra = signing_env(sendgrid_server)
    async with (
        running_services(database_url, twilio_broker, twilio_server, db, tmp_path / "services.log", **extra) as running,
        aiohttp.ClientSession() as http,
    ):
        sending_id, ids = await _prepared_email_sending(db, 3)
        await announce(twilio_broker, sending_id, ids)
        await wait_transmitted(db, sending_id, 60, "the emails transmitted through SendGrid")

        def event(dispatch_id: int, kind: str, timestamp: object) -> dict[str, object]:
            return {"event": kind, "timestamp": timestamp, "dispatch_id": str(dispatch_id),
                    "sg_message_id": f"{sendgrid_server.message_ids[str(dispatch_id)]}.filterdrecv-1-2"}  # fmt: skip

        now = int(time.time())
        events = [event(ids[0], "delivered", now), event(ids[1], "bounce", now), event(ids[2], "delivered", "soon")]
        body = orjson.dumps(events)
        headers = {"X-Twilio-Email-Event-Webhook-Timestamp": str(now),
                   "X-Twilio-Email-Event-Webhook-Signature": sign(key, body, str(now))}  # fmt: skip
        async with http.post(f"{running.receipts_url}/webhooks/sendgrid", data=body, headers=headers) as response:
            assert response.status == 204, await response.text()
        # Answered once committed: the two readable events are in the inbox already.
        stored = await db.fetch("SELECT dispatch_id, status FROM receipts_inbox WHERE provider = 'sendgrid'")
        assert {(r["dispatch_id"], r["status"]) for r in stored} == {(ids[0], "delivered"), (ids[1], "failed")}

        async def applied() -> bool:
            rows = await db.fetch("SELECT id, delivery_status FROM dispatches WHERE sending_id = $1", sending_id)
            return {r["id"]: r["delivery_status"] for r in rows} == {
                ids[0]: "delivered", ids[1]: "failed", ids[2]: "pending"
            }  # fmt: skip

        await eventually(applied, 30, "the two readable events applied, the third dispatch left pending")
        async with http.get(f"{running.receipts_url}/metrics") as response:
            metrics = await response.text()
        assert 'messaging_delivery_receipts_malformed_total{provider="sendgrid"} 1.0' in metrics
