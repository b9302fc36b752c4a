"""Large audiences written straight into the database, for the benchmarks and the fault tests."""

from __future__ import annotations

import random
from typing import Any

from shared.db import Conn

FIRST_NAMES = ("Piotr", "Kari", "Ola", "Nora", "Jan", "Ingrid", "Lars", "Sofie", "Emil", "Maja")
CITIES = ("Oslo", "Bergen", "Trondheim", "Stavanger", "Tromsø", "Drammen")
# Three merge tags, as the benchmark of issue 4 asks.
SMS_BODY = "Hei {{ first_name }}! Nye tilbud i {{ city }}. Du har {{ points }} poeng."


def member_rows(lc_id: int, count: int, seed: int = 7) -> list[tuple[Any, ...]]:
    """Members 1..count with realistic properties; about 1 in 20 has no phone number, 1 in 10 has no consent."""
    rng = random.Random(seed)
    rows = []
    for i in range(1, count + 1):
        properties = {
            "first_name": rng.choice(FIRST_NAMES),
            "city": rng.choice(CITIES),
            "birthday": f"{rng.randint(1950, 2005)}-{rng.randint(1, 12):02d}-01",
            "points": rng.randint(0, 50_000),
            "tags": rng.sample(("vip", "new", "sport", "kids", "food"), 2),
        }
        consents = {"sms_marketing": {"status": rng.random() < 0.9}}
        msisdn = None if rng.random() < 0.05 else f"479{i:07d}"
        rows.append((lc_id, i, f"s{i:08x}", msisdn, f"member{i}@example.com", properties, consents))
    return rows


async def seed_members(conn: Conn, lc_id: int, count: int) -> None:
    await conn.copy_records_to_table(
        "members",
        columns=("loyalty_club_id", "id", "secret_id", "msisdn", "email", "properties", "consents"),
        records=member_rows(lc_id, count),
    )
    await conn.execute("ANALYZE members")


async def create_sms_audience_sending(
    conn: Conn, lc_id: int, conditions: list[dict[str, Any]], *, marketing: bool = True, body: str = SMS_BODY
) -> int:
    """A message with one sms channel and a sending to an audience, already `preparing` (as the scheduler
    leaves it), due now."""
    template_id = await conn.fetchval(
        "INSERT INTO templates (loyalty_club_id, type, content) VALUES ($1, 'plain', $2) RETURNING id",
        lc_id,
        {"body": body},
    )
    message_id = await conn.fetchval(
        "INSERT INTO messages (loyalty_club_id, service, name, marketing, shorten_urls) "
        "VALUES ($1, 'campaign', 'Bench', $2, false) RETURNING id",
        lc_id,
        marketing,
    )
    await conn.execute(
        "INSERT INTO channels (message_id, position, type, sender, template_id) VALUES ($1, 0, 'sms', $2, $3)",
        message_id,
        {"type": "alphanumeric", "value": "Bench"},
        template_id,
    )
    audience_id = await conn.fetchval(
        "INSERT INTO audiences (loyalty_club_id, name, conditions) VALUES ($1, 'bench', $2) RETURNING id",
        lc_id,
        conditions,
    )
    sending_id: int = await conn.fetchval(
        "INSERT INTO sendings (loyalty_club_id, message_id, audience_id, status, scheduled_at) "
        "VALUES ($1, $2, $3, 'preparing', now()) RETURNING id",
        lc_id,
        message_id,
        audience_id,
    )
    return sending_id


async def create_lc_row(conn: Conn, slug: str) -> int:
    lc_id: int = await conn.fetchval("INSERT INTO loyalty_clubs (slug, name) VALUES ($1, $1) RETURNING id", slug)
    return lc_id
