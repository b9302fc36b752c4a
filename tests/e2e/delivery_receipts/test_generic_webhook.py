"""/webhooks/generic: receipts signed the Standard Webhooks way, checked with the official `standardwebhooks`
package; forged, stale or unsigned ones are refused with 401 and change nothing."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import asyncpg
import orjson
from standardwebhooks.webhooks import Webhook
from tests.e2e.providers import TwilioServer, running_services
from tests.infra import eventually
from tests.seed import create_lc_row

SECRET = "whsec_" + base64.b64encode(b"generic-webhook-secret-for-tests").decode()


def signed(body: bytes, msg_id: str, at: datetime, secret: str = SECRET) -> dict[str, str]:
    signature = Webhook(secret).sign(msg_id, at, body.decode())
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(at.timestamp())), "webhook-signature": signature,
            "Content-Type": "application/json"}  # fmt: skip


async def test_standard_webhooks_receipts_apply_and_forged_or_stale_ones_are_refused(
    database_url: str, db: asyncpg.Pool, twilio_broker: str, twilio_server: TwilioServer, tmp_path: Path
) -> None:
    async with db.acquire() as conn:
        lc_id = await create_lc_row(conn, "generic")
        await conn.executemany(
            "INSERT INTO dispatches (sending_id, loyalty_club_id, recipient_key, type, transmission_status, "
            "provider, provider_message_id) VALUES (1, $1, $2, 'email', 'transmitted', 'acme', $3)",
            [(lc_id, "k1", "m-1"), (lc_id, "k2", "m-2")],
        )
    extra = {"GENERIC_WEBHOOK_SECRET": SECRET}
    log = tmp_path / "services.log"
    async with (
        running_services(database_url, twilio_broker, twilio_server, db, log, **extra) as running,
        aiohttp.ClientSession() as http,
    ):
        url = f"{running.receipts_url}/webhooks/generic"
        now = datetime.now(UTC)
        delivered = orjson.dumps({"provider": "acme", "message_id": "m-1", "status": "delivered"})
        bounced = orjson.dumps({"provider": "acme", "message_id": "m-2", "status": "bounced"})
        refused = [
            (delivered, {"Content-Type": "application/json"}),  # unsigned
            (delivered, signed(delivered, "msg_1", now - timedelta(minutes=6))),  # stale
            (delivered.replace(b"m-1", b"m-2"), signed(delivered, "msg_2", now)),  # body changed after signing
            (delivered, signed(delivered, "msg_3", now, "whsec_" + base64.b64encode(b"another").decode())),
        ]
        for body, headers in refused:
            async with http.post(url, data=body, headers=headers) as response:
                assert response.status == 401
        for body, msg_id in [(delivered, "msg_4"), (bounced, "msg_5")]:
            async with http.post(url, data=body, headers=signed(body, msg_id, now)) as response:
                assert response.status == 204, await response.text()

        async def applied() -> dict[str, str] | None:
            rows = await db.fetch("SELECT provider_message_id, delivery_status FROM dispatches WHERE provider = 'acme'")
            states = {r["provider_message_id"]: r["delivery_status"] for r in rows}
            return states if "pending" not in states.values() else None

        assert await eventually(applied, 30, "both receipts applied") == {"m-1": "delivered", "m-2": "failed"}
