"""Email sendings for the provider tests, prepared by the preparer's own code in the test process: the dispatches
(their `From`, preheader, consent filtering) are what the preparer makes, and its `dispatches.prepared` events
reach the transmitter under test."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
from faststream.kafka import KafkaBroker

from preparer.config import PreparerSettings
from preparer.service import prepare_range, start_preparation
from shared.db import Conn
from shared.domain import SendingId

CONTENT = {"subject": "Tilbud til {{ name }}", "body": "<p>Hei <b>{{ name }}</b></p>", "preheader": "Bare i dag"}
EVERY_MEMBER_WITH_EMAIL = [{"condition_group": "member_attributes", "field": "email", "operator": "exists"}]


async def create_email_message(conn: Conn, lc_id: int, from_name: str, *, marketing: bool) -> int:
    """A message with one email channel from `from_name <shop@example.com>`; returns its id."""
    template_id = await conn.fetchval(
        "INSERT INTO templates (loyalty_club_id, type, content) VALUES ($1, 'email', $2) RETURNING id", lc_id, CONTENT
    )
    message_id: int = await conn.fetchval(
        "INSERT INTO messages (loyalty_club_id, service, name, marketing) VALUES ($1, 'generic', 'Offer', $2) "
        "RETURNING id",
        lc_id,
        marketing,
    )
    await conn.execute(
        "INSERT INTO channels (message_id, position, type, from_email, from_name, template_id) "
        "VALUES ($1, 0, 'email', 'shop@example.com', $2, $3)",
        message_id,
        from_name,
        template_id,
    )
    return message_id


async def create_email_sending(
    conn: Conn,
    lc_id: int,
    message_id: int,
    *,
    emails: Sequence[str] = (),
    audience: list[dict[str, Any]] | None = None,
) -> int:
    """A sending of the message, due now and `preparing` (as the scheduler leaves it), to inline `emails` and/or
    the members matching `audience`; returns its id."""
    audience_id = None
    if audience is not None:
        audience_id = await conn.fetchval(
            "INSERT INTO audiences (loyalty_club_id, conditions) VALUES ($1, $2) RETURNING id", lc_id, audience
        )
    sending_id: int = await conn.fetchval(
        "INSERT INTO sendings (loyalty_club_id, message_id, audience_id, status, scheduled_at) "
        "VALUES ($1, $2, $3, 'preparing', now()) RETURNING id",
        lc_id,
        message_id,
        audience_id,
    )
    await conn.executemany(
        "INSERT INTO sending_recipients (sending_id, position, email, properties) VALUES ($1, $2, $3, $4)",
        [(sending_id, i, email, {"name": email.split("@")[0]}) for i, email in enumerate(emails)],
    )
    return sending_id


async def prepare(db: asyncpg.Pool, broker_url: str, sending_id: int) -> None:
    """Prepare the sending as the preparer does, every range of it here; its batches go to the transmitter."""
    settings = PreparerSettings(database_url="unused", kafka_bootstrap_servers=broker_url)
    broker = KafkaBroker(broker_url)
    await broker.start()
    try:
        await start_preparation(db, broker, SendingId(sending_id), settings)
        for row in await db.fetch(
            "SELECT range_no FROM preparation_ranges WHERE sending_id = $1 AND NOT done", sending_id
        ):
            await prepare_range(db, broker, SendingId(sending_id), row["range_no"], settings)
    finally:
        await broker.stop()
