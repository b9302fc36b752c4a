"""SQL of the preparer: what a sending needs, its ranges, the audience read, dispatches written with COPY."""

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from shared.db import Conn
from shared.domain import INT64_MAX, INT64_MIN, DispatchId, SendingId
from shared.preparation.planning import PlannedDispatch, SendingToPrepare

INLINE_RANGE = 0
# A planned dispatch is COPYed between the ids the preparer adds and its sending's time.
_DISPATCH_COLUMNS = ("id", "sending_id", "loyalty_club_id", *PlannedDispatch._fields, "scheduled_at")


async def split_members(conn: Conn, lc_id: int, range_size: int) -> list[tuple[int, int]]:
    """(lo, hi] id bounds cutting the LC's members into ranges of about `range_size` members each."""
    count: int = await conn.fetchval(
        "SELECT count(*) FROM members WHERE loyalty_club_id = $1 AND deleted_at IS NULL", lc_id
    )
    ranges = max(1, -(-count // range_size))
    cuts: list[int] = []
    if ranges > 1:
        cuts = await conn.fetchval(
            "SELECT percentile_disc($2::float8[]) WITHIN GROUP (ORDER BY id) FROM members "
            "WHERE loyalty_club_id = $1 AND deleted_at IS NULL",
            lc_id,
            [i / ranges for i in range(1, ranges)],
        )
    bounds = [INT64_MIN, *sorted(set(cuts)), INT64_MAX]
    return list(itertools.pairwise(bounds))


async def create_ranges(conn: Conn, sending_id: SendingId, member_bounds: Sequence[tuple[int, int]]) -> None:
    """Range 0 for the inline recipients (by position), then one per member range; once per sending."""
    bounds = [(-1, INT64_MAX), *member_bounds]
    await conn.executemany(
        "INSERT INTO preparation_ranges (sending_id, range_no, lo, hi, cursor) VALUES ($1, $2, $3, $4, $3) "
        "ON CONFLICT DO NOTHING",
        [(sending_id, no, lo, hi) for no, (lo, hi) in enumerate(bounds)],
    )


@dataclass(frozen=True, slots=True)
class PreparationRange:
    """One range of a sending's recipients (0: the inline ones; 1..n: members by id), as committed."""

    range_no: int
    lo: int
    hi: int
    cursor: int  # the members up to here are prepared
    done: bool


async def get_ranges(conn: Conn, sending_id: SendingId) -> list[PreparationRange]:
    rows = await conn.fetch(
        "SELECT range_no, lo, hi, cursor, done FROM preparation_ranges WHERE sending_id = $1 ORDER BY range_no",
        sending_id,
    )
    return [PreparationRange(*r) for r in rows]


async def get_range(conn: Conn, sending_id: SendingId, range_no: int) -> PreparationRange | None:
    row = await conn.fetchrow(
        "SELECT range_no, lo, hi, cursor, done FROM preparation_ranges WHERE sending_id = $1 AND range_no = $2",
        sending_id,
        range_no,
    )
    return PreparationRange(*row) if row else None


async def lock_preparing_sending(conn: Conn, sending_id: SendingId, exclusive: bool = False) -> bool:
    """True if the sending is still preparing (not cancelled meanwhile); holds its row until commit.

    Chunks of several ranges share the lock, so they commit in parallel while a cancellation waits for them.
    """
    mode = "UPDATE" if exclusive else "SHARE"
    status = await conn.fetchval(f"SELECT status FROM sendings WHERE id = $1 FOR {mode}", sending_id)  # noqa: S608
    return bool(status == "preparing")


async def advance_range(
    conn: Conn,
    sending_id: SendingId,
    range_no: int,
    expected_cursor: int,
    new_cursor: int,
    done: bool,
    counts: tuple[int, int, int],
) -> bool:
    """Move the range's cursor past a chunk and add its counts; False if another worker moved it already."""
    dispatches, unreachable, suppressed = counts
    moved = await conn.fetchval(
        "UPDATE preparation_ranges SET cursor = $4, done = $5, dispatches = dispatches + $6, "
        "unreachable = unreachable + $7, suppressed = suppressed + $8, updated_at = now() "
        "WHERE sending_id = $1 AND range_no = $2 AND cursor = $3 AND NOT done RETURNING true",
        sending_id,
        range_no,
        expected_cursor,
        new_cursor,
        done,
        dispatches,
        unreachable,
        suppressed,
    )
    return bool(moved)


async def next_dispatch_ids(conn: Conn, count: int) -> list[int]:
    ids: list[int] = await conn.fetchval(
        "SELECT array(SELECT nextval(pg_get_serial_sequence('dispatches', 'id')) FROM generate_series(1, $1))", count
    )
    return ids


async def copy_dispatches(conn: Conn, sending: SendingToPrepare, rows: Sequence[PlannedDispatch]) -> list[DispatchId]:
    """COPY the chunk's rows straight into dispatches; returns the ids of those to transmit.

    A chunk is written once: its range's cursor moves in the same transaction, and the unique key
    (sending_id, recipient_key) stops anything written twice by mistake.
    """
    ids = await next_dispatch_ids(conn, len(rows))
    lc_id, sending_id, scheduled_at = sending.loyalty_club_id, sending.id, sending.scheduled_at
    await conn.copy_records_to_table(
        "dispatches",
        columns=_DISPATCH_COLUMNS,
        records=[(i, sending_id, lc_id, *r, scheduled_at) for i, r in zip(ids, rows, strict=True)],
    )
    return [DispatchId(i) for i, r in zip(ids, rows, strict=True) if r.transmission_status == "scheduled"]


async def insert_short_links(conn: Conn, sending_id: SendingId, links: Sequence[tuple[str, str, str | None]]) -> None:
    """Store a chunk's short links; a link shared by the whole sending is stored by its first chunk."""
    if not links:
        return
    codes, urls, keys = zip(*links, strict=True)
    await conn.execute(
        "INSERT INTO short_links (code, url, sending_id, dispatch_key) "
        "SELECT code, url, $1, key FROM unnest($2::text[], $3::text[], $4::text[]) AS l(code, url, key) "
        "ON CONFLICT (code) DO NOTHING",
        sending_id,
        list(codes),
        list(urls),
        list(keys),
    )


async def finish_preparation(conn: Conn, sending_id: SendingId) -> str | None:
    """`preparing → prepared` with the ranges' counts once every range is done, or `skipped` with no dispatch."""
    status: str | None = await conn.fetchval(
        """
        WITH ranges AS (
            SELECT bool_and(done) AS done, sum(unreachable) AS unreachable, sum(suppressed) AS suppressed
            FROM preparation_ranges WHERE sending_id = $1
        ), counts AS (
            SELECT count(*) AS dispatches, count(DISTINCT member_id) AS members
            FROM dispatches WHERE sending_id = $1
        )
        UPDATE sendings s SET
            status = CASE WHEN counts.dispatches > 0 THEN 'prepared' ELSE 'skipped' END,
            dispatches_count = counts.dispatches, members_count = counts.members,
            planned_count = counts.dispatches + ranges.unreachable + ranges.suppressed,
            unreachable_count = ranges.unreachable, suppressed_count = ranges.suppressed,
            status_changed_at = now(), updated_at = now()
        FROM counts, ranges WHERE s.id = $1 AND s.status = 'preparing' AND ranges.done
        RETURNING s.status
        """,
        sending_id,
    )
    return status
