"""Push through an FCM-compatible server on 127.0.0.1 with a service-account OAuth token; an UNREGISTERED
answer clears the member's app token; data values arrive as JSON strings and the iOS payload in FCM v1's shape."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from tests.e2e.providers import FcmServer, TwilioServer, announce, running_services, wait_transmitted
from tests.seed import create_lc_row

PUSHES = 30
GONE = "token-7"


def service_account(fcm_server: FcmServer, tmp_path: Path) -> Path:
    """A service-account file whose key the server checks tokens against; returns its path."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    fcm_server.public_key = key.public_key()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    credentials = tmp_path / "service-account.json"
    credentials.write_bytes(orjson.dumps({
        "type": "service_account", "project_id": "shop-app", "client_email": "push@shop-app.iam.example.com",
        "private_key": pem.decode(), "token_uri": f"{fcm_server.url}/token",
    }))  # fmt: skip
    return credentials


# Long: one story told end to end through the real processes; split, each part would need the whole stack again
async def test_pushes_reach_fcm_with_the_bearer_token_and_unregistered_tokens_are_cleared(
    database_url: str,
    db: asyncpg.Pool,
    twilio_broker: str,
    twilio_server: TwilioServer,
    fcm_server: FcmServer,
    tmp_path: Path,
) -> None:
    fcm_server.unregistered = {GONE}
    credentials = service_account(fcm_server, tmp_path)
    async with db.acquire() as conn:
        lc_id = await create_lc_row(conn, "fcm")
        await conn.executemany(
            "INSERT INTO members (loyalty_club_id, id, app_token) VALUES ($1, $2, $3)",
            [(lc_id, i, f"token-{i}") for i in range(1, PUSHES + 1)],
        )
        template_id = await conn.fetchval(
            "INSERT INTO templates (loyalty_club_id, type, content) VALUES ($1, 'push', '{}') RETURNING id", lc_id
        )
        message_id = await conn.fetchval(
            "INSERT INTO messages (loyalty_club_id, service, name) VALUES ($1, 'generic', 'P') RETURNING id", lc_id
        )
        await conn.execute(
            "INSERT INTO channels (message_id, position, type, template_id) VALUES ($1, 0, 'push', $2)",
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
            "INSERT INTO dispatches (sending_id, loyalty_club_id, recipient_key, type, content, member_id, app_token, "
            "scheduled_at) SELECT $1, $2, 'member:' || i, 'push', jsonb_build_object('subject', 'Hei ' || i, "
            "'body', 'Nytt tilbud', 'url', 'https://shop.example/o/' || i, 'data', jsonb_build_object('offer', i)), "
            "i, 'token-' || i, now() FROM generate_series(1, $3) AS i RETURNING id",
            sending_id,
            lc_id,
            PUSHES,
        )
    extra = {"PUSH_PROVIDER": "fcm", "FCM_BASE_URL": fcm_server.url, "FCM_PROJECT_ID": "shop-app",
             "FCM_CREDENTIALS_FILE": str(credentials)}  # fmt: skip
    async with running_services(database_url, twilio_broker, twilio_server, db, tmp_path / "log", **extra):
        await announce(twilio_broker, sending_id, sorted(r["id"] for r in rows))

        await wait_transmitted(db, sending_id, 60, "the pushes sent through FCM")
    assert fcm_server.token_requests == 1, "one access token, cached for every push"
    assert set(fcm_server.bearers) == {f"Bearer {fcm_server.access_token}"}
    assert {p["token"]: p for p in fcm_server.pushes}["token-3"] == {
        "token": "token-3",
        "notification": {"title": "Hei 3", "body": "Nytt tilbud"},
        "data": {"offer": "3", "url": "https://shop.example/o/3"},
    }
    assert len(fcm_server.pushes) == PUSHES
    outcomes = await db.fetch(
        "SELECT app_token, transmission_status, error FROM dispatches WHERE sending_id = $1", sending_id
    )
    assert {(r["transmission_status"], r["error"]) for r in outcomes if r["app_token"] != GONE} == {
        ("transmitted", None)
    }
    assert [(r["transmission_status"], r["error"]) for r in outcomes if r["app_token"] == GONE] == [
        ("failed", "unregistered_token")
    ]
    tokens = {r["id"]: r["app_token"] for r in await db.fetch("SELECT id, app_token FROM members")}
    assert tokens == {i: None if i == 7 else f"token-{i}" for i in range(1, PUSHES + 1)}


async def test_data_values_arrive_as_json_strings_and_the_ios_payload_as_apns_payload(
    database_url: str,
    db: asyncpg.Pool,
    twilio_broker: str,
    twilio_server: TwilioServer,
    fcm_server: FcmServer,
    tmp_path: Path,
) -> None:
    credentials = service_account(fcm_server, tmp_path)
    data = {"text": "True", "yes": True, "nothing": None, "offer": {"a": 1}, "ids": [1, 2], "points": 12.5}
    aps = {"aps": {"alert": {"title": "Hei"}, "badge": 1, "sound": "default"}}
    apns_config = {"headers": {"apns-priority": "10"}, "payload": {"aps": {"content-available": 1}}}
    async with db.acquire() as conn:
        lc_id = await create_lc_row(conn, "fcm-payloads")
        message_id = await conn.fetchval(
            "INSERT INTO messages (loyalty_club_id, service, name) VALUES ($1, 'generic', 'P') RETURNING id", lc_id
        )
        sending_id = await conn.fetchval(
            "INSERT INTO sendings (loyalty_club_id, message_id, status, scheduled_at) "
            "VALUES ($1, $2, 'prepared', now()) RETURNING id",
            lc_id,
            message_id,
        )
        rows = await conn.fetch(
            "INSERT INTO dispatches (sending_id, loyalty_club_id, recipient_key, type, content, app_token, "
            "scheduled_at) SELECT $1, $2, 'app_token:' || t, 'push', c, t, now() "
            "FROM unnest($3::text[], $4::jsonb[]) AS d(t, c) RETURNING id",
            sending_id,
            lc_id,
            ["token-aps", "token-config"],
            [{"subject": "Hei", "data": data, "ios_payload": aps}, {"subject": "Hei", "ios_payload": apns_config}],
        )
    extra = {"PUSH_PROVIDER": "fcm", "FCM_BASE_URL": fcm_server.url, "FCM_PROJECT_ID": "shop-app",
             "FCM_CREDENTIALS_FILE": str(credentials)}  # fmt: skip
    async with running_services(database_url, twilio_broker, twilio_server, db, tmp_path / "log", **extra):
        await announce(twilio_broker, sending_id, sorted(r["id"] for r in rows))

        await wait_transmitted(db, sending_id, 60, "the pushes sent through FCM")
    pushes = {p["token"]: p for p in fcm_server.pushes}
    assert pushes["token-aps"]["data"] == {"text": "True", "yes": "true", "nothing": "null", "offer": '{"a":1}',
                                           "ids": "[1,2]", "points": "12.5"}  # fmt: skip
    assert pushes["token-aps"]["apns"] == {"payload": aps}
    assert pushes["token-config"]["apns"] == apns_config, "an ApnsConfig is passed through as it is"
