"""The retention job wipes content and identifiers of dispatches older than their LC's retention."""

from __future__ import annotations

import asyncpg
from tests.seed import create_lc_row

from scheduler.config import SchedulerSettings
from scheduler.service import wipe_expired


async def test_dispatches_past_their_lcs_retention_lose_content_and_identifiers(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        default_lc = await create_lc_row(conn, "default-retention")
        short_lc = await create_lc_row(conn, "short-retention")
        await conn.execute("UPDATE loyalty_clubs SET settings = '{\"retention_days\": 5}' WHERE id = $1", short_lc)
        await conn.executemany(
            "INSERT INTO dispatches (sending_id, loyalty_club_id, recipient_key, type, content, member_id, msisdn, "
            "created_at) VALUES (1, $1, $2, 'sms', '{\"body\": \"Hi\"}', 7, '4790000001', "
            "now() - make_interval(days => $3))",
            [(default_lc, "a-100", 100), (default_lc, "a-10", 10), (short_lc, "b-10", 10), (short_lc, "b-1", 1)]
            + [(short_lc, f"bulk-{i}", 30) for i in range(25)],
        )
    settings = SchedulerSettings(retention_batch_size=10)  # several batches
    assert await wipe_expired(db, settings) == 27
    rows = await db.fetch("SELECT recipient_key, content, msisdn, member_id, cleaned_at FROM dispatches")
    wiped = {r["recipient_key"] for r in rows if r["cleaned_at"] is not None}
    assert wiped == {"a-100", "b-10"} | {f"bulk-{i}" for i in range(25)}
    for r in rows:
        if r["recipient_key"] in wiped:
            assert (r["content"], r["msisdn"]) == (None, None)
            assert r["member_id"] == 7, "the member stays known: history lists the message without its content"
        else:
            assert (r["content"], r["msisdn"]) == ({"body": "Hi"}, "4790000001")
    assert await wipe_expired(db, settings) == 0, "a second pass finds nothing left"
