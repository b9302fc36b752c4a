"""What the API decides: creating messages and sendings, and reading them back in the spec's shapes."""

from typing import Any

from api import checks, views
from api.auth import Caller
from api.errors import ErrorTree, Forbidden, InvalidParameters, NotFound
from api.permits import SENDINGS_SET_PRIORITY, SENDINGS_WITHOUT_CONSENTS_CHECKS, Service
from api.repository import messages as repository
from api.schemas import ChannelPayload, MessagePayload, SendingPayload
from shared.db import Conn
from shared.domain import MessageId, SendingId, SendingStatus
from shared.formats import utcnow


async def _channel_fields(
    conn: Conn,
    caller: Caller,
    tree: ErrorTree,
    path: list[str | int],
    channel: ChannelPayload,
    lc_channels: dict[str, Any],
) -> dict[str, Any]:
    """The stored form of one channel: its template copied in, its attributes defaulted from the LC."""
    lc_channel = lc_channels.get(channel.type)
    if lc_channel is None:
        tree.add([*path, "type"], channel.type, "not_configured", f"{channel.type} is not configured for this LC")
        lc_channel = {}
    template: dict[str, Any] = {"type": "plain", "content": {}, "wrapper_id": None}
    choice = channel.template
    if choice.type == "inline":
        if choice.definition is None:
            tree.add([*path, "template", "definition"], None, "presence", "must be present")
        else:
            checks.check_template_definition(tree, [*path, "template", "definition"], channel.type, choice.definition)
            template = choice.definition.model_dump()
    else:
        stored = None if choice.id is None else await repository.get_stored_template(conn, caller.lc_id, choice.id)
        if stored is None:
            tree.add([*path, "template", "id"], choice.id, "template_does_not_exist", "template does not exist")
        else:
            template = {"type": stored["type"], "content": stored["content"], "wrapper_id": stored["wrapper_id"]}
    if (
        template["wrapper_id"] is not None
        and await repository.get_stored_template(conn, caller.lc_id, template["wrapper_id"]) is None
    ):
        tree.add(
            [*path, "template", "definition", "wrapper_id"],
            template["wrapper_id"],
            "template_does_not_exist",
            "wrapper template does not exist",
        )
    return {
        "type": channel.type,
        "template": template,
        "sender": checks.resolve_sender(tree, path, channel, lc_channel) if channel.type == "sms" else None,
        "from_email": (channel.from_email or lc_channel.get("from_email")) if channel.type == "email" else None,
        "from_name": (channel.from_name or lc_channel.get("from_name")) if channel.type == "email" else None,
    }


def _sending_fields(
    caller: Caller, tree: ErrorTree, path: list[str | int], payload: SendingPayload, channel_types: list[str]
) -> dict[str, Any]:
    """The stored form of a sending: status and time from its schedule, its inline recipients."""
    if payload.priority is not None and not caller.may(SENDINGS_SET_PRIORITY):
        raise Forbidden(f"Missing permit {SENDINGS_SET_PRIORITY} to set priority")
    now = utcnow()
    for index, channel_type in enumerate(payload.channels_preference or []):
        if channel_type not in channel_types:
            tree.add(
                [*path, "channels_preference", index],
                channel_type,
                "inclusion",
                "is not one of the message's channels",
                {"in": channel_types},
            )
    if payload.audience is not None:
        tree.add(
            [*path, "audience"],
            payload.audience.model_dump(exclude_none=True),
            "not_configured",
            "audiences are not available yet; use inline recipients",
        )
    if payload.audience is None and not payload.recipients:
        tree.add(
            [*path, "base"],
            None,
            "sending_must_have_audience_or_recipients",
            "sending must have audience or recipients",
        )
    checks.check_recipients(tree, [*path, "recipients"], payload.recipients or [], channel_types)
    scheduled_at = None
    if payload.schedule is not None:
        checks.check_schedule(tree, [*path, "schedule"], payload.schedule, now)
        if not tree:
            scheduled_at = checks.schedule_time(payload.schedule, now)
    draft = payload.draft or payload.schedule is None
    return {
        "status": SendingStatus.DRAFT if draft else SendingStatus.SCHEDULED,
        "draft": payload.draft,
        "priority": payload.priority,
        "channels_preference": payload.channels_preference,
        "properties": payload.properties,
        "scheduled_at": scheduled_at,
        "scheduled_with": payload.schedule.model_dump(by_alias=True, exclude_unset=True, mode="json")
        if payload.schedule
        else None,
        "prescheduled": bool(payload.schedule and payload.schedule.prescheduled),
        "recipients": [r.model_dump() for r in payload.recipients or []],
    }


async def _insert_sending(conn: Conn, caller: Caller, message_id: MessageId, fields: dict[str, Any]) -> SendingId:
    sending_id = await repository.insert_sending(conn, caller.lc_id, message_id, fields)
    if fields["status"] == SendingStatus.SCHEDULED:
        await repository.notify_sendings_due(conn)
    return sending_id


async def create_message(conn: Conn, caller: Caller, service: Service, payload: MessagePayload) -> dict[str, Any]:
    """Store a message with its channels (and its first sending) in one transaction; 422 on any error."""
    tree = ErrorTree()
    if payload.campaign_id is not None and service.name != "campaigns":
        tree.add(
            ["message", "campaign_id"],
            payload.campaign_id,
            "is_relevant_only_for_campaign_service",
            "is relevant only for the campaigns service",
        )
    if "marketing" in payload.model_fields_set and not caller.may(SENDINGS_WITHOUT_CONSENTS_CHECKS):
        raise Forbidden(f"Missing permit {SENDINGS_WITHOUT_CONSENTS_CHECKS} to set marketing")
    types = [c.type for c in payload.channels]
    if len(set(types)) != len(types):
        tree.add(["message", "channels", "base"], types, "types_must_be_unique", "channel types must be unique")
    lc_settings = await repository.get_loyalty_club_settings(conn, caller.lc_id)
    lc_channels = lc_settings.get("channels") or {}
    channels = [
        await _channel_fields(conn, caller, tree, ["message", "channels", i], c, lc_channels)
        for i, c in enumerate(payload.channels)
    ]
    sending = _sending_fields(caller, tree, ["message", "sending"], payload.sending, types) if payload.sending else None
    if tree:
        raise InvalidParameters(tree)
    async with conn.transaction():
        message_id = await repository.insert_message(conn, caller.lc_id, service.name, payload.model_dump())
        for position, channel in enumerate(channels):
            await repository.insert_channel(conn, caller.lc_id, message_id, position, channel)
        if sending is not None:
            await _insert_sending(conn, caller, message_id, sending)
    return await show_message(conn, caller, service, message_id)


async def show_message(conn: Conn, caller: Caller, service: Service, message_id: int) -> dict[str, Any]:
    message = await repository.get_message(conn, caller.lc_id, service.name, message_id)
    if message is None:
        raise NotFound("Message not found")
    channels = await repository.get_channels(conn, message["id"])
    summary = await repository.get_message_sendings_summary(conn, message["id"])
    return views.message_view(message, channels, summary)


async def create_sending(
    conn: Conn, caller: Caller, service: Service, message_id: int, payload: SendingPayload
) -> dict[str, Any]:
    """Schedule a sending of an existing message of this service and LC (404 otherwise)."""
    message = await repository.get_message(conn, caller.lc_id, service.name, message_id)
    if message is None:
        raise NotFound("Message not found")
    types = [c["type"] for c in await repository.get_channels(conn, message["id"])]
    tree = ErrorTree()
    fields = _sending_fields(caller, tree, ["sending"], payload, types)
    if tree:
        raise InvalidParameters(tree)
    async with conn.transaction():
        sending_id = await _insert_sending(conn, caller, message["id"], fields)
    return await show_sending(conn, caller, service, sending_id)


async def show_sending(conn: Conn, caller: Caller, service: Service, sending_id: int) -> dict[str, Any]:
    sending = await repository.get_sending(conn, caller.lc_id, service.name, sending_id)
    if sending is None:
        raise NotFound("Sending not found")
    recipients = await repository.get_sending_recipients(conn, sending["id"])
    counts = await repository.count_sending_dispatches(conn, sending["id"])
    return views.sending_view(sending, recipients, counts)


async def list_sending_dispatches(
    conn: Conn,
    caller: Caller,
    service: Service,
    sending_id: int,
    filters: dict[str, Any],
    per_page: int,
    page_no: int,
) -> dict[str, Any]:
    sending = await repository.get_sending(conn, caller.lc_id, service.name, sending_id)
    if sending is None:
        raise NotFound("Sending not found")
    rows, total = await repository.list_sending_dispatches(
        conn, sending["id"], filters, per_page, (page_no - 1) * per_page
    )
    return {
        "dispatches": [views.dispatch_view(r) for r in rows],
        "pagination_info": views.pagination_info(total, per_page, page_no),
    }
