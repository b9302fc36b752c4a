"""SQL of the members read model: batched upserts where the newer version wins, and deletion."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson

from shared.db import Conn

FIELDS = ("id", "secret_id", "msisdn", "email", "app_token", "app_platform", "properties", "consents",
          "sms_status", "email_status", "push_status", "updated_at")  # fmt: skip


async def get_loyalty_club_id(conn: Conn, slug: str) -> int | None:
    lc_id: int | None = await conn.fetchval("SELECT id FROM loyalty_clubs WHERE slug = $1", slug)
    return lc_id


def upsert_from(source: str) -> str:
    """The upsert of members of LC $1 read from `source` (rows `r` with the members' columns, jsonb as text):
    a version older than the one held, or than the member's deletion, changes nothing."""
    return f"""
        INSERT INTO members (loyalty_club_id, id, secret_id, msisdn, email, app_token, app_platform, properties,
                             consents, sms_status, email_status, push_status, source_updated_at, updated_at)
        SELECT $1, r.id, r.secret_id, r.msisdn, r.email, r.app_token, r.app_platform, r.properties::jsonb,
               r.consents::jsonb, r.sms_status, r.email_status, r.push_status, r.source_updated_at, now()
        FROM {source}
        ON CONFLICT (loyalty_club_id, id) DO UPDATE SET
            secret_id = excluded.secret_id, msisdn = excluded.msisdn, email = excluded.email,
            app_token = excluded.app_token, app_platform = excluded.app_platform, properties = excluded.properties,
            consents = excluded.consents, sms_status = excluded.sms_status, email_status = excluded.email_status,
            push_status = excluded.push_status, source_updated_at = excluded.source_updated_at,
            updated_at = now(), deleted_at = NULL
        WHERE (members.source_updated_at IS NULL OR members.source_updated_at <= excluded.source_updated_at)
          AND (members.deleted_at IS NULL OR members.deleted_at < excluded.source_updated_at)
    """  # noqa: S608


UPSERT_FROM_ARRAYS = upsert_from(
    "unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], "
    "$10::text[], $11::text[], $12::text[], $13::timestamptz[]) AS r(id, secret_id, msisdn, email, app_token, "
    "app_platform, properties, consents, sms_status, email_status, push_status, source_updated_at)"
)


async def upsert_members(conn: Conn, lc_id: int, members: Sequence[dict[str, Any]]) -> int:
    """Insert or update members in one statement; a version older than the one held changes nothing.

    `members` must not repeat an id. Returns how many rows were written.
    """
    columns = [[m[f] for m in members] for f in FIELDS]
    for index in (FIELDS.index("properties"), FIELDS.index("consents")):  # jsonb travels as text in arrays
        columns[index] = [orjson.dumps(v).decode() for v in columns[index]]
    result: str = await conn.execute(UPSERT_FROM_ARRAYS, lc_id, *columns)
    return int(result.rsplit(maxsplit=1)[-1])


async def delete_member(conn: Conn, lc_id: int, member_id: int, deleted_at: datetime) -> bool:
    """Leave a tombstone without data and wipe the member's dispatches; False when a newer version is held."""
    applied = await conn.fetchval(
        "INSERT INTO members (loyalty_club_id, id, deleted_at, source_updated_at) VALUES ($1, $2, $3, $3) "
        "ON CONFLICT (loyalty_club_id, id) DO UPDATE SET secret_id = NULL, msisdn = NULL, email = NULL, "
        "app_token = NULL, app_platform = NULL, properties = '{}', consents = '{}', deleted_at = $3, "
        "source_updated_at = $3, updated_at = now() "
        "WHERE members.source_updated_at IS NULL OR members.source_updated_at <= $3 RETURNING true",
        lc_id,
        member_id,
        deleted_at,
    )
    if not applied:
        return False
    await conn.execute(
        "UPDATE dispatches SET msisdn = NULL, email = NULL, app_token = NULL, content = NULL, "
        "cleaned_at = now(), updated_at = now() WHERE loyalty_club_id = $1 AND member_id = $2 AND cleaned_at IS NULL",
        lc_id,
        member_id,
    )
    return True
