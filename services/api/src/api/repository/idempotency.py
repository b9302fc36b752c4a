"""SQL of idempotency keys: a request owns its key for the length of its transaction, and its answer is kept."""

from typing import NamedTuple

from shared.db import Conn


class StoredAnswer(NamedTuple):
    """The request that owned a key: its fingerprint, and its answer once it completed."""

    fingerprint: bytes
    status: int | None
    content_type: str | None
    body: bytes | None


async def claim(conn: Conn, owner: bytes, key: str, fingerprint: bytes, wait_seconds: float) -> StoredAnswer | None:
    """None when this request now owns the key (in the caller's transaction); else the row of the request that
    owned it. While another transaction holds the key, this waits for its end, `wait_seconds` at most."""
    await conn.execute(f"SET LOCAL lock_timeout = '{float(wait_seconds)}s'")
    claimed = await conn.fetchval(
        "INSERT INTO idempotency_keys (owner, key, fingerprint) VALUES ($1, $2, $3) "
        "ON CONFLICT (owner, key) DO UPDATE SET fingerprint = excluded.fingerprint, status = NULL, body = NULL, "
        "content_type = NULL, created_at = now(), completed_at = NULL "
        "WHERE idempotency_keys.created_at < now() - interval '24 hours' OR idempotency_keys.status IS NULL "
        "RETURNING true",
        owner,
        key,
        fingerprint,
    )
    await conn.execute("SET LOCAL lock_timeout TO DEFAULT")
    if claimed:
        return None
    row = await conn.fetchrow(
        "SELECT fingerprint, status, content_type, body FROM idempotency_keys WHERE owner = $1 AND key = $2",
        owner,
        key,
    )
    return StoredAnswer(*row) if row else None


async def store_answer(conn: Conn, owner: bytes, key: str, status: int, content_type: str, body: bytes) -> None:
    await conn.execute(
        "UPDATE idempotency_keys SET status = $3, content_type = $4, body = $5, completed_at = now() "
        "WHERE owner = $1 AND key = $2",
        owner,
        key,
        status,
        content_type,
        body,
    )
