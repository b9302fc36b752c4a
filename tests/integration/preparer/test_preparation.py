"""Preparation on a small audience, with exact expected dispatches: wrappers, short links, dedupe, counts.

The preparer's service runs here against the real database and the real broker.
"""

from __future__ import annotations

from typing import Any

import asyncpg
from faststream.kafka import KafkaBroker
from tests.seed import create_lc_row

from preparer.config import PreparerSettings
from preparer.service import prepare_range, start_preparation
from shared.domain import SendingId
from shared.preparation.shortener import short_code

BASE = "http://short.test"


async def _sending(
    conn: Any, lc_id: int, channels: list[dict[str, Any]], *, audience: list[dict[str, Any]] | None, **message: Any
) -> int:
    message_id = await conn.fetchval(
        "INSERT INTO messages (loyalty_club_id, service, name, shorten_urls, track_in_shortener) "
        "VALUES ($1, 'generic', 'Spring', $2, $3) RETURNING id",
        lc_id,
        message.get("shorten_urls", False),
        message.get("track_in_shortener", False),
    )
    for position, channel in enumerate(channels):
        wrapper_id = None
        if channel.get("wrapper"):
            wrapper_id = await conn.fetchval(
                "INSERT INTO templates (loyalty_club_id, type, content, standalone, name) "
                "VALUES ($1, 'generic', $2, true, 'wrap') RETURNING id",
                lc_id,
                channel["wrapper"],
            )
        template_id = await conn.fetchval(
            "INSERT INTO templates (loyalty_club_id, type, content, wrapper_id) VALUES ($1, $2, $3, $4) RETURNING id",
            lc_id,
            channel["template_type"],
            channel["content"],
            wrapper_id,
        )
        await conn.execute(
            "INSERT INTO channels (message_id, position, type, from_email, from_name, template_id) "
            "VALUES ($1, $2, $3, $4, $5, $6)",
            message_id, position, channel["type"], channel.get("from_email"), channel.get("from_name"), template_id,
        )  # fmt: skip
    audience_id = None
    if audience is not None:
        audience_id = await conn.fetchval(
            "INSERT INTO audiences (loyalty_club_id, conditions) VALUES ($1, $2) RETURNING id", lc_id, audience
        )
    sending_id: int = await conn.fetchval(
        "INSERT INTO sendings (loyalty_club_id, message_id, audience_id, status, scheduled_at, properties) "
        "VALUES ($1, $2, $3, 'preparing', now(), $4) RETURNING id",
        lc_id,
        message_id,
        audience_id,
        {"promo": "SPRING", "city": "Sending city"},
    )
    return sending_id


async def _prepare(db: asyncpg.Pool, broker: KafkaBroker, sending_id: int, **settings: Any) -> list[dict[str, Any]]:
    config = PreparerSettings(short_link_base_url=BASE, **settings)
    await start_preparation(db, broker, SendingId(sending_id), config)
    # Ranges past the first two are announced for other replicas: this test plays them.
    for range_no in await db.fetch(
        "SELECT range_no FROM preparation_ranges WHERE sending_id = $1 AND NOT done", sending_id
    ):
        await prepare_range(db, broker, SendingId(sending_id), range_no["range_no"], config)
    assert await db.fetchval("SELECT status FROM sendings WHERE id = $1", sending_id) == "prepared"
    rows = await db.fetch(
        "SELECT recipient_key, type, content, member_id, msisdn, email FROM dispatches WHERE sending_id = $1 "
        "ORDER BY recipient_key",
        sending_id,
    )
    return [dict(r) for r in rows]


async def test_wrappers_wrap_each_attribute_and_the_merge_precedence_holds(
    db: asyncpg.Pool, broker: KafkaBroker
) -> None:
    async with db.acquire() as conn:
        lc_id = await create_lc_row(conn, "wrap")
        await conn.execute(
            "INSERT INTO members (loyalty_club_id, id, secret_id, email, properties) VALUES ($1, 1, 'sec-1', "
            "'kari@example.com', $2)",
            lc_id,
            {"first_name": "Kari", "city": "Oslo"},
        )
        email = {
            "type": "email", "template_type": "email", "from_email": "shop@example.com", "from_name": "Shop",
            "content": {"subject": "{{ promo }} for {{ first_name }}", "body": "<p>{{ member.city }} {{ city }}</p>",
                        "preheader": "Hi"},
            # a null attribute keeps the template's own; one without {{ content }} replaces it
            "wrapper": {"body": "<html>{{ content }}<i>{{ member.secret_id }}</i></html>",
                        "subject": "[{{ message.name }}] {{ content }}", "preheader": None},
        }  # fmt: skip
        conditions = [{"condition_group": "member_properties", "field": "city", "operator": "match", "value": "oslo"}]
        sending_id = await _sending(conn, lc_id, [email], audience=conditions)
    (dispatch,) = await _prepare(db, broker, sending_id)
    assert dispatch["content"] == {
        "subject": "[Spring] SPRING for Kari",
        "body": "<html><p>Oslo Oslo</p><i>sec-1</i></html>",
        "preheader": "Hi",
        "from": "Shop <shop@example.com>",
    }


async def test_a_from_name_with_a_comma_or_semicolon_is_quoted_so_it_stays_one_name(
    db: asyncpg.Pool, broker: KafkaBroker
) -> None:
    sendings: dict[str, int] = {}
    async with db.acquire() as conn:
        lc_id = await create_lc_row(conn, "from")
        for name in ("Acme, Inc.", "A; B", "Shop"):
            email = {"type": "email", "template_type": "email", "from_email": "shop@example.com", "from_name": name,
                     "content": {"subject": "Hi", "body": "<p>Hi</p>"}}  # fmt: skip
            sending_id = await _sending(conn, lc_id, [email], audience=None)
            await conn.execute(
                "INSERT INTO sending_recipients (sending_id, position, email) VALUES ($1, 0, 'kari@example.com')",
                sending_id,
            )
            sendings[name] = sending_id
    froms = {}
    for name, sending_id in sendings.items():
        (dispatch,) = await _prepare(db, broker, sending_id)
        froms[name] = dispatch["content"]["from"]
    assert froms == {
        "Acme, Inc.": '"Acme, Inc." <shop@example.com>',
        "A; B": '"A; B" <shop@example.com>',
        "Shop": "Shop <shop@example.com>",
    }


async def test_sms_urls_become_short_links_per_recipient_when_tracked(db: asyncpg.Pool, broker: KafkaBroker) -> None:
    async with db.acquire() as conn:
        lc_id = await create_lc_row(conn, "short")
        await conn.executemany(
            "INSERT INTO members (loyalty_club_id, id, msisdn, properties) VALUES ($1, $2, $3, $4)",
            [(lc_id, i, f"4790000{i:03d}", {"first_name": f"M{i}"}) for i in (1, 2, 3)],
        )
        sms = {"type": "sms", "template_type": "plain",
               "content": {"body": "Hi {{ first_name }}, see https://shop.example/spring?m={{ member.id }}. "
                                   "Or http://shop.example/all"}}  # fmt: skip
        everyone = [{"condition_group": "member_attributes", "field": "msisdn", "operator": "exists"}]
        tracked = await _sending(conn, lc_id, [sms], audience=everyone, shorten_urls=True, track_in_shortener=True)
        shared = await _sending(conn, lc_id, [sms], audience=everyone, shorten_urls=True)
    dispatches = await _prepare(db, broker, tracked, preparer_chunk_size=2)  # two chunks
    for d in dispatches:
        key, member = d["recipient_key"], d["member_id"]
        spring, every = (
            short_code(tracked, f"https://shop.example/spring?m={member}", key),
            short_code(tracked, "http://shop.example/all", key),
        )
        assert d["content"]["body"] == f"Hi M{member}, see {BASE}/s/{spring}. Or {BASE}/s/{every}"
    links = await db.fetch("SELECT url, dispatch_key FROM short_links WHERE sending_id = $1 ORDER BY 2, 1", tracked)
    assert len(links) == 6
    assert {(r["url"], r["dispatch_key"]) for r in links} == {
        (url, f"member:{m}")
        for m in (1, 2, 3)
        for url in (f"https://shop.example/spring?m={m}", "http://shop.example/all")
    }
    await _prepare(db, broker, shared, preparer_chunk_size=2)
    links = await db.fetch("SELECT url, dispatch_key FROM short_links WHERE sending_id = $1", shared)
    assert sorted((r["url"], r["dispatch_key"]) for r in links) == sorted(
        [(f"https://shop.example/spring?m={m}", None) for m in (1, 2, 3)] + [("http://shop.example/all", None)]
    )


async def test_a_member_inline_and_in_the_audience_gets_one_dispatch_with_inline_properties(
    db: asyncpg.Pool, broker: KafkaBroker
) -> None:
    async with db.acquire() as conn:
        lc_id = await create_lc_row(conn, "dedupe")
        await conn.executemany(
            "INSERT INTO members (loyalty_club_id, id, msisdn, properties) VALUES ($1, $2, $3, $4)",
            [(lc_id, i, f"4790000{i:03d}", {"first_name": f"M{i}"}) for i in range(1, 8)],
        )
        sms = {"type": "sms", "template_type": "plain", "content": {"body": "{{ first_name }} {{ promo }}"}}
        everyone = [{"condition_group": "member_properties", "field": "first_name", "operator": "starts_with",
                     "value": "m"}]  # fmt: skip
        sending_id = await _sending(conn, lc_id, [sms], audience=everyone)
        await conn.executemany(
            "INSERT INTO sending_recipients (sending_id, position, member_id, msisdn, properties) "
            "VALUES ($1, $2, $3, $4, $5)",
            [(sending_id, 0, 3, None, {"first_name": "Inline", "promo": "VIP"}),
             (sending_id, 1, None, "4740769126", {"first_name": "Guest"})],
        )  # fmt: skip
    dispatches = await _prepare(db, broker, sending_id, preparer_chunk_size=3, preparer_range_size=3)
    assert [(d["recipient_key"], d["content"]["body"]) for d in dispatches] == [
        ("member:1", "M1 SPRING"), ("member:2", "M2 SPRING"), ("member:3", "Inline VIP"), ("member:4", "M4 SPRING"),
        ("member:5", "M5 SPRING"), ("member:6", "M6 SPRING"), ("member:7", "M7 SPRING"),
        ("msisdn:4740769126", "Guest SPRING"),
    ]  # fmt: skip
    ranges = await db.fetch("SELECT range_no, done FROM preparation_ranges WHERE sending_id = $1", sending_id)
    assert len(ranges) >= 3, "seven members in ranges of three: the sending was split"
