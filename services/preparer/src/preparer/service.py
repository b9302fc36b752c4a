"""Preparation of a sending: resolve recipients, choose channels, render, write dispatches in chunks."""

from typing import Any

import asyncpg
import structlog
from faststream.kafka import KafkaBroker

from preparer import repository
from preparer.planning import Channel, Plan, Recipient, plan_dispatches
from shared.db import Conn
from shared.domain import MARKETING_SERVICES, SendingId
from shared.events import DispatchesPrepared
from shared.kafka import publish_events

log = structlog.get_logger(__name__)


def _recipients(inline: list[dict[str, Any]], members: dict[int, dict[str, Any]]) -> list[Recipient]:
    """Inline recipients; one with `member_id` uses the member's own identifiers (none if unknown)."""
    return [
        Recipient(properties=r["properties"], member_id=r["member_id"], member=members.get(r["member_id"], {}))
        if r["member_id"] is not None
        else Recipient(properties=r["properties"], msisdn=r["msisdn"], email=r["email"], app_token=r["app_token"])
        for r in inline
    ]


async def _plan(conn: Conn, sending: dict[str, Any]) -> Plan:
    channels = [
        Channel.compile(
            c["type"], c["content"], f"{c['from_name']} <{c['from_email']}>" if c["from_name"] else c["from_email"]
        )
        for c in await repository.get_message_channels(conn, sending["message_id"])
    ]
    inline = await repository.get_inline_recipients(conn, sending["id"])
    member_ids = [r["member_id"] for r in inline if r["member_id"] is not None]
    members = await repository.get_members(conn, sending["loyalty_club_id"], member_ids) if member_ids else {}
    recipients = _recipients(inline, members)
    if sending["audience_conditions"] is not None:
        # After the inline ones: a member present in both keeps its inline properties (spec §3.3).
        audience = await repository.get_audience_members(
            conn, sending["loyalty_club_id"], sending["audience_conditions"]
        )
        recipients += [Recipient(properties={}, member_id=m["id"], member=m) for m in audience]
    return plan_dispatches(sending, channels, recipients)


async def prepare_sending(pool: asyncpg.Pool, broker: KafkaBroker, sending_id: SendingId, chunk_size: int) -> None:
    """Write the sending's dispatches chunk by chunk, announcing each chunk after it committed.

    Safe to run twice: a sending no longer `preparing` is left alone, and dispatches already written are
    not written again. The last chunk commits together with `prepared`, so the transmitter that reads
    it can tell the sending is complete.
    """
    async with pool.acquire() as conn:
        sending = await repository.get_sending_to_prepare(conn, sending_id)
        if sending is None or sending["status"] != "preparing":
            log.info("preparation_not_needed", sending_id=sending_id, status=sending and sending["status"])
            return
        if sending["marketing"] is None:  # the message did not say: its service decides
            sending["marketing"] = sending["service"] in MARKETING_SERVICES
        plan = await _plan(conn, sending)
    status: str | None = None
    chunks = [plan.rows[i : i + chunk_size] for i in range(0, len(plan.rows), chunk_size)] or [[]]
    for index, chunk in enumerate(chunks):
        last = index == len(chunks) - 1
        async with pool.acquire() as conn, conn.transaction():
            if not await repository.lock_preparing_sending(conn, sending_id):
                log.info("preparation_stopped", sending_id=sending_id, reason="no longer preparing")
                return
            new_ids = await repository.insert_dispatches(conn, sending, chunk) if chunk else []
            if last:
                status = await repository.finish_preparation(conn, sending_id, plan.unreachable, plan.suppressed)
            else:
                await repository.touch_sending(conn, sending_id)
        if new_ids or (last and status == "prepared"):
            await publish_events(
                broker, [DispatchesPrepared(sending_id=sending_id, dispatch_ids=new_ids)], lambda e: str(sending_id)
            )
    log.info(
        "sending_prepared",
        sending_id=sending_id,
        status=status,
        dispatches=len(plan.rows),
        unreachable=plan.unreachable,
    )
