"""Sendings: create, update and cancel along the status machine of spec §2.2, and read them back."""

from datetime import datetime
from typing import Any

from api import bodies, checks, views
from api.conditions import check_conditions
from api.errors import ErrorTree, Forbidden, InvalidParameters, NotAllowedInState, NotFound
from api.permits import SENDINGS_SET_PRIORITY, Service
from api.repository import messages as message_repository
from api.repository import sendings as repository
from api.repository.rows import MessageRow, SendingRow
from api.schemas import AudiencePayload, Schedule, SendingPayload, SendingUpdate
from api.tokens import Caller
from shared import ledger_repository
from shared.config import ServiceSettings
from shared.db import Conn
from shared.domain import (
    CANCELLABLE_SENDING_STATUSES,
    EDITABLE_SENDING_STATUSES,
    LoyaltyClubId,
    MessageId,
    SendingId,
    SendingStatus,
)
from shared.formats import utcnow
from shared.preparation import preview

Path = list[str | int]
NEW_SENDING: dict[str, Any] = {
    "draft": False, "priority": None, "channels_preference": None, "properties": {}, "audience_id": None,
    "recipients": [], "scheduled_at": None, "scheduled_with": None, "prescheduled": False,
}  # fmt: skip


async def _audience_id(
    conn: Conn, lc_id: LoyaltyClubId, tree: ErrorTree, path: Path, audience: AudiencePayload | None
) -> int | None:
    """A referenced audience of the LC, or an inline one stored as an audience of its own."""
    if audience is None:
        return None
    if audience.id is not None:  # `{"type": "inline", "id": N}` is accepted as a reference
        if not await repository.audience_exists(conn, lc_id, audience.id):
            tree.add([*path, "id"], audience.id, "referenced_audience_must_exist", "referenced audience must exist")
        return audience.id
    if audience.type == "reference":
        tree.add([*path, "id"], None, "presence", "must be present")
        return None
    check_conditions(tree, [*path, "conditions"], audience.conditions)
    if tree:
        return None
    return await repository.insert_inline_audience(conn, lc_id, audience.conditions or [])


def _schedule_fields(tree: ErrorTree, path: Path, schedule: Schedule | None, now: datetime) -> dict[str, Any]:
    if schedule is None:
        return {"scheduled_at": None, "scheduled_with": None, "prescheduled": False}
    checks.check_schedule(tree, path, schedule, now)
    return {
        "scheduled_at": None if tree else checks.schedule_time(schedule, now),
        "scheduled_with": schedule.model_dump(by_alias=True, exclude_unset=True, mode="json"),
        "prescheduled": schedule.prescheduled,
    }


async def resolve_sending_fields(
    conn: Conn,
    caller: Caller,
    tree: ErrorTree,
    path: Path,
    payload: SendingPayload | SendingUpdate,
    channel_types: list[str],
    current: SendingRow | None = None,
) -> dict[str, Any]:
    """What to store: every field of a new sending, or the changes to `current`; errors go to `tree`."""
    given = payload.model_fields_set if current is not None else set(NEW_SENDING) | {"schedule", "audience"}
    if "priority" in given and payload.priority is not None and not caller.may(SENDINGS_SET_PRIORITY):
        raise Forbidden(f"Missing permit {SENDINGS_SET_PRIORITY} to set priority")
    fields: dict[str, Any] = {k: getattr(payload, k) for k in ("priority", "channels_preference") if k in given}
    if "draft" in given:
        fields["draft"] = bool(payload.draft)
    if "properties" in given:
        fields["properties"] = payload.properties or {}
    for index, channel_type in enumerate(fields.get("channels_preference") or []):
        if channel_type not in channel_types:
            tree.add([*path, "channels_preference", index], channel_type, "inclusion",
                     "is not one of the message's channels", {"in": channel_types})  # fmt: skip
    if "recipients" in given:
        checks.check_recipients(tree, [*path, "recipients"], payload.recipients or [], channel_types)
        fields["recipients"] = [r.model_dump() for r in payload.recipients or []]
    if "audience" in given:
        fields["audience_id"] = await _audience_id(conn, caller.lc_id, tree, [*path, "audience"], payload.audience)
    if "schedule" in given:
        fields.update(_schedule_fields(tree, [*path, "schedule"], payload.schedule, utcnow()))
    stored = NEW_SENDING if current is None else {
        "draft": current.draft, "scheduled_at": current.scheduled_at, "audience_id": current.audience_id
    }  # fmt: skip
    merged = {**stored, **fields}
    draft = merged["draft"] or merged["scheduled_at"] is None
    fields["status"] = SendingStatus.DRAFT if draft else SendingStatus.SCHEDULED
    # A draft may be incomplete (the documented unschedule example also drops the audience);
    # a sending that is to run needs someone to send to.
    recipients = len(fields["recipients"]) if "recipients" in fields else (current.recipients_count if current else 0)
    audience = merged["audience_id"] is not None or ("audience" in given and payload.audience is not None)
    if not draft and not audience and not recipients:
        tree.add([*path, "base"], None, "sending_must_have_audience_or_recipients",
                 "sending must have audience or recipients")  # fmt: skip
    return fields if current is not None else {**NEW_SENDING, **fields}


async def insert_sending(conn: Conn, caller: Caller, message_id: MessageId, fields: dict[str, Any]) -> SendingId:
    """Store a sending; a scheduled one wakes the scheduler when the transaction commits."""
    sending_id = await repository.insert_sending(conn, caller.lc_id, message_id, fields)
    if fields["status"] == SendingStatus.SCHEDULED:
        await repository.notify_sendings_due(conn)
    return sending_id


async def _message_channel_types(conn: Conn, message_id: MessageId) -> list[str]:
    return [c.type for c in (await message_repository.get_channels(conn, [message_id]))[message_id]]


async def _message_or_404(conn: Conn, caller: Caller, service: Service, message_id: int) -> MessageRow:
    message = await message_repository.get_message(conn, caller.lc_id, service.name, message_id)
    if message is None:
        raise NotFound("Message not found")
    return message


async def _new_sending_fields(
    conn: Conn, caller: Caller, message_id: MessageId, payload: SendingPayload
) -> dict[str, Any]:
    """Every field of a new sending of the message, or 422 with the whole error tree."""
    tree = ErrorTree()
    channel_types = await _message_channel_types(conn, message_id)
    fields = await resolve_sending_fields(conn, caller, tree, ["sending"], payload, channel_types)
    if tree:
        raise InvalidParameters(tree)
    return fields


async def create_sending(
    conn: Conn, caller: Caller, service: Service, message_id: int, payload: SendingPayload
) -> bodies.Sending:
    """Schedule a sending of an existing message of this service and LC (404 otherwise)."""
    message = await _message_or_404(conn, caller, service, message_id)
    async with conn.transaction():
        fields = await _new_sending_fields(conn, caller, message.id, payload)
        sending_id = await insert_sending(conn, caller, message.id, fields)
    return await show_sending(conn, caller, service, sending_id)


class _Rollback(Exception):
    """Not an error: how a preview leaves nothing behind."""

    def __init__(self, preview: dict[str, Any]) -> None:
        self.preview = preview


async def preview_sending(
    conn: Conn, caller: Caller, service: Service, message_id: int, payload: SendingPayload, settings: ServiceSettings
) -> dict[str, Any]:
    """What Create would prepare now, computed on the sending stored in a transaction that is rolled back."""
    message = await _message_or_404(conn, caller, service, message_id)
    try:
        async with conn.transaction():
            fields = await _new_sending_fields(conn, caller, message.id, payload)
            sending_id = await repository.insert_sending(conn, caller.lc_id, message.id, fields)
            raise _Rollback(await preview.preview_sending(conn, sending_id, settings))
    except _Rollback as done:
        return done.preview


async def update_sending(
    conn: Conn, caller: Caller, service: Service, sending_id: int, payload: SendingUpdate
) -> bodies.Sending:
    """Change a draft or scheduled sending (405 once execution started or it is final)."""
    async with conn.transaction():
        current = await repository.get_sending(conn, caller.lc_id, service.name, sending_id, lock=True)
        if current is None:
            raise NotFound("Sending not found")
        if current.status not in EDITABLE_SENDING_STATUSES:
            raise NotAllowedInState(f"A sending in status {current.status} cannot be updated")
        tree = ErrorTree()
        channel_types = await _message_channel_types(conn, current.message_id)
        fields = await resolve_sending_fields(conn, caller, tree, ["sending"], payload, channel_types, current)
        if tree:
            raise InvalidParameters(tree)
        recipients = fields.pop("recipients", None)
        if recipients is not None:
            await repository.replace_recipients(conn, current.id, recipients)
            fields["recipients_count"] = len(recipients)
        await repository.update_sending(conn, current.id, fields)
        if fields["status"] == SendingStatus.SCHEDULED:
            await repository.notify_sendings_due(conn)
    return await show_sending(conn, caller, service, sending_id)


async def cancel_sending(conn: Conn, caller: Caller, service: Service, sending_id: int) -> bodies.Sending:
    """Cancel a scheduled or executing sending; nothing not yet transmitted will be (405 otherwise)."""
    async with conn.transaction():
        current = await repository.get_sending(conn, caller.lc_id, service.name, sending_id, lock=True)
        if current is None:
            raise NotFound("Sending not found")
        if current.status not in CANCELLABLE_SENDING_STATUSES:
            raise NotAllowedInState(f"A sending in status {current.status} cannot be cancelled")
        await repository.cancel_sending(conn, current.id, list(CANCELLABLE_SENDING_STATUSES))
    return await show_sending(conn, caller, service, sending_id)


async def _sending_or_404(conn: Conn, caller: Caller, service: Service, sending_id: int) -> SendingRow:
    sending = await repository.get_sending(conn, caller.lc_id, service.name, sending_id)
    if sending is None:
        raise NotFound("Sending not found")
    return sending


async def sending_views(conn: Conn, sendings: list[SendingRow]) -> list[bodies.Sending]:
    """Full sending bodies for a page of sendings, with two queries for the whole page."""
    recipients = await repository.get_sending_recipients(conn, [s.id for s in sendings])
    stats = await ledger_repository.ledgers(conn, {s.id: (s.suppressed_count, s.unreachable_count) for s in sendings})
    return [views.sending_view(s, recipients[s.id], stats[s.id]) for s in sendings]


async def show_sending(conn: Conn, caller: Caller, service: Service, sending_id: int) -> bodies.Sending:
    sending = await _sending_or_404(conn, caller, service, sending_id)
    [view] = await sending_views(conn, [sending])
    return view


async def list_message_sendings(
    conn: Conn, caller: Caller, service: Service, message_id: int, per_page: int, page_no: int
) -> dict[str, Any]:
    message = await _message_or_404(conn, caller, service, message_id)
    rows, total = await repository.list_message_sendings(conn, message.id, per_page, (page_no - 1) * per_page)
    return {
        "sendings": await sending_views(conn, rows),
        "pagination_info": views.pagination_info(total, per_page, page_no),
    }


async def list_sending_dispatches(
    conn: Conn, caller: Caller, service: Service, sending_id: int,
    filters: dict[str, Any], per_page: int, page_no: int,
) -> dict[str, Any]:  # fmt: skip
    sending = await _sending_or_404(conn, caller, service, sending_id)
    rows, total = await repository.list_sending_dispatches(
        conn, sending.id, filters, per_page, (page_no - 1) * per_page
    )
    return {
        "dispatches": [views.dispatch_view(r) for r in rows],
        "pagination_info": views.pagination_info(total, per_page, page_no),
    }


async def list_sending_members(
    conn: Conn, caller: Caller, service: Service, sending_id: int, per_page: int, page_no: int
) -> dict[str, Any]:
    sending = await _sending_or_404(conn, caller, service, sending_id)
    rows, total = await repository.list_sending_members(conn, sending.id, per_page, (page_no - 1) * per_page)
    return {
        "dispatch_members": [views.sending_member_view(r) for r in rows],
        "pagination_info": views.pagination_info(total, per_page, page_no),
    }
