"""SQL of a sending's ledger: its dispatches counted by status, and what its preparation has counted so far."""

from collections.abc import Mapping

from shared.db import Conn
from shared.domain import SendingId
from shared.ledger import DispatchCounts, Stats


async def count_sending_dispatches(conn: Conn, sending_ids: list[SendingId]) -> dict[int, DispatchCounts]:
    """The ledger's dispatch counts of each sending, by transmission and delivery status."""
    rows = await conn.fetch(
        "SELECT sending_id, count(*) AS prepared, "
        "count(*) FILTER (WHERE transmission_status = 'scheduled') AS pending, "
        "count(*) FILTER (WHERE transmission_status = 'transmitted') AS transmitted, "
        "count(*) FILTER (WHERE transmission_status = 'failed') AS failed, "
        "count(*) FILTER (WHERE transmission_status = 'transmitted' AND delivery_status = 'delivered') AS delivered, "
        "count(*) FILTER (WHERE transmission_status = 'transmitted' AND delivery_status = 'failed') "
        "  AS delivery_failed "
        "FROM dispatches WHERE sending_id = ANY($1) GROUP BY sending_id",
        sending_ids,
    )
    counts: dict[int, DispatchCounts] = dict.fromkeys(sending_ids, DispatchCounts())
    for sending_id, *numbers in rows:
        counts[sending_id] = DispatchCounts(*numbers)
    return counts


async def preparation_progress(conn: Conn, sending_ids: list[SendingId]) -> dict[int, tuple[int, int]]:
    """(suppressed, unreachable) recipients counted so far by the ranges of each sending being prepared."""
    rows = await conn.fetch(
        "SELECT sending_id, sum(suppressed)::int AS suppressed_count, sum(unreachable)::int AS unreachable_count "
        "FROM preparation_ranges WHERE sending_id = ANY($1) GROUP BY sending_id",
        sending_ids,
    )
    return {sending_id: (suppressed, unreachable) for sending_id, suppressed, unreachable in rows}


async def ledgers(conn: Conn, recipients: Mapping[SendingId, tuple[int | None, int | None]]) -> dict[int, Stats]:
    """The ledger of each sending, given its own (suppressed, unreachable) counts: a sending that has none yet (its
    preparation runs) shows what its ranges counted so far, so the ledger moves while it is prepared."""
    ids = list(recipients)
    counts = await count_sending_dispatches(conn, ids)
    unresolved = [i for i, (suppressed, _) in recipients.items() if suppressed is None]
    progress = await preparation_progress(conn, unresolved) if unresolved else {}
    return {i: Stats.of(*progress.get(i, recipients[i]), counts[i]) for i in ids}
