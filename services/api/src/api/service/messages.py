"""Messages: create (with a first sending), show, list, update, duplicate, delete, overview."""

from typing import Any

from api import bodies, checks, views
from api.errors import ErrorTree, Forbidden, InvalidParameters, NotFound
from api.permits import SENDINGS_WITHOUT_CONSENTS_CHECKS, Service
from api.repository import messages as repository
from api.repository.rows import ChannelRow, MessageRow
from api.repository.settings import approved_sender_values
from api.schemas import ChannelPayload, MessagePayload, MessageUpdate
from api.service import sendings
from api.service.templates import check_wrapper
from api.tokens import Caller
from shared.db import Conn
from shared.domain import ChannelType, MessageId


async def _template_of(
    conn: Conn, caller: Caller, tree: ErrorTree, path: list[str | int], channel: ChannelPayload
) -> dict[str, Any]:
    """The channel's template: an inline definition checked, or a stored one copied in."""
    choice = channel.template
    assert choice is not None
    template: dict[str, Any] = {"type": "plain", "content": {}, "wrapper_id": None}
    if choice.type == "inline":
        if choice.definition is None:
            tree.add([*path, "definition"], None, "presence", "must be present")
        else:
            checks.check_template_definition(tree, [*path, "definition"], channel.type, choice.definition)
            template = choice.definition.model_dump()
    else:
        stored = None if choice.id is None else await repository.get_stored_template(conn, caller.lc_id, choice.id)
        if stored is None:
            tree.add([*path, "id"], choice.id, "template_does_not_exist", "template does not exist")
        else:
            template = {"type": stored.type, "content": stored.content, "wrapper_id": stored.wrapper_id}
    if template["wrapper_id"] is not None:
        await check_wrapper(conn, caller.lc_id, tree, [*path, "definition", "wrapper_id"], template["type"],
                            template["wrapper_id"])  # fmt: skip
    return template


async def _channel_fields(
    conn: Conn,
    caller: Caller,
    tree: ErrorTree,
    path: list[str | int],
    channel: ChannelPayload,
    lc_channels: dict[str, Any],
    current: ChannelRow | None = None,
    approved_senders: set[str] | None = None,
) -> dict[str, Any]:
    """The stored form of one channel given: attributes left out keep the `current` channel's (when
    updating) or default to the LC's messaging settings (when creating)."""
    lc_channel = lc_channels.get(channel.type)
    if lc_channel is None:
        tree.add([*path, "type"], channel.type, "not_configured", f"{channel.type} is not configured for this LC")
        lc_channel = {}
    fields: dict[str, Any] = {"type": channel.type, "sender": None, "from_email": None, "from_name": None}
    if channel.template is not None:
        fields["template"] = await _template_of(conn, caller, tree, [*path, "template"], channel)
    elif current is not None:
        fields["template_id"] = current.template_id
    else:
        tree.add([*path, "template"], None, "presence", "must be present")
    if channel.type == ChannelType.SMS:
        keep = current is not None and channel.sender is None
        fields["sender"] = (
            current.sender
            if keep and current
            else checks.resolve_sender(tree, path, channel, lc_channel, approved_senders or set())
        )
    elif channel.type == ChannelType.EMAIL:
        from_email, from_name = (
            (current.from_email, current.from_name)
            if current
            else (lc_channel.get("from_email"), lc_channel.get("from_name"))
        )
        fields["from_email"] = channel.from_email or from_email
        fields["from_name"] = channel.from_name or from_name
    return fields


async def _channels(
    conn: Conn,
    caller: Caller,
    tree: ErrorTree,
    channels: list[ChannelPayload],
    current: dict[str, ChannelRow] | None = None,
) -> list[dict[str, Any]]:
    """The stored form of every channel given (merged into the `current` ones by type); types must be unique."""
    types = [c.type for c in channels]
    if len(set(types)) != len(types):
        tree.add(["message", "channels", "base"], types, "types_must_be_unique", "channel types must be unique")
    lc_settings = await repository.get_loyalty_club_settings(conn, caller.lc_id)
    lc_channels = lc_settings.get("channels") or {}
    approved = await approved_sender_values(conn, caller.lc_id)
    return [
        await _channel_fields(
            conn, caller, tree, ["message", "channels", i], c, lc_channels, (current or {}).get(c.type), approved
        )
        for i, c in enumerate(channels)
    ]


def _check_message_fields(
    caller: Caller, service: Service, tree: ErrorTree, payload: MessagePayload | MessageUpdate
) -> None:
    if payload.campaign_id is not None and service.name != "campaigns":
        tree.add(["message", "campaign_id"], payload.campaign_id, "is_relevant_only_for_campaign_service",
                 "is relevant only for the campaigns service")  # fmt: skip
    if "marketing" in payload.model_fields_set and not caller.may(SENDINGS_WITHOUT_CONSENTS_CHECKS):
        raise Forbidden(f"Missing permit {SENDINGS_WITHOUT_CONSENTS_CHECKS} to set marketing")


async def create_message(conn: Conn, caller: Caller, service: Service, payload: MessagePayload) -> bodies.Message:
    """Store a message with its channels (and its first sending) in one transaction; 422 on any error."""
    async with conn.transaction():
        tree = ErrorTree()
        _check_message_fields(caller, service, tree, payload)
        channels = await _channels(conn, caller, tree, payload.channels)
        sending = None
        if payload.sending is not None:
            types = [c.type for c in payload.channels]
            sending = await sendings.resolve_sending_fields(
                conn, caller, tree, ["message", "sending"], payload.sending, types
            )
        if tree:
            raise InvalidParameters(tree)
        message_id = await repository.insert_message(conn, caller.lc_id, service.name, payload.model_dump())
        for position, channel in enumerate(channels):
            await repository.insert_channel(conn, caller.lc_id, message_id, position, channel)
        if sending is not None:
            await sendings.insert_sending(conn, caller, message_id, sending)
    return await show_message(conn, caller, service, message_id)


async def message_views(conn: Conn, messages: list[MessageRow]) -> list[bodies.Message]:
    """Full message bodies for a page of messages, with two queries for the whole page."""
    ids = [m.id for m in messages]
    channels = await repository.get_channels(conn, ids)
    summaries = await repository.get_sendings_summaries(conn, ids)
    return [views.message_view(m, channels[m.id], summaries[m.id]) for m in messages]


async def _message_or_404(conn: Conn, caller: Caller, service: Service, message_id: int) -> MessageRow:
    message = await repository.get_message(conn, caller.lc_id, service.name, message_id)
    if message is None:
        raise NotFound("Message not found")
    return message


async def show_message(conn: Conn, caller: Caller, service: Service, message_id: int) -> bodies.Message:
    [view] = await message_views(conn, [await _message_or_404(conn, caller, service, message_id)])
    return view


async def list_messages(
    conn: Conn, caller: Caller, service: Service, filters: dict[str, Any], per_page: int, page_no: int
) -> dict[str, Any]:
    rows, total = await repository.list_messages(
        conn, caller.lc_id, service.name, filters, per_page, (page_no - 1) * per_page
    )
    return {
        "messages": await message_views(conn, rows),
        "pagination_info": views.pagination_info(total, per_page, page_no),
    }


async def update_message(
    conn: Conn, caller: Caller, service: Service, message_id: int, payload: MessageUpdate
) -> bodies.Message:
    """Partial update; channels given replace the message's channels of the same type; sendings untouched."""
    async with conn.transaction():
        message = await _message_or_404(conn, caller, service, message_id)
        tree = ErrorTree()
        _check_message_fields(caller, service, tree, payload)
        given = payload.model_fields_set
        for required in ("name", "shorten_urls", "track_in_shortener", "channels"):
            if required in given and getattr(payload, required) is None:
                tree.add(["message", required], None, "presence", "cannot be cleared")
        existing = {c.type: c for c in (await repository.get_channels(conn, [message.id]))[message.id]}
        channels = await _channels(conn, caller, tree, payload.channels, existing) if payload.channels else []
        if tree:
            raise InvalidParameters(tree)
        await repository.update_message(conn, message.id, {k: getattr(payload, k) for k in given})
        for channel in channels:
            await repository.replace_channel(conn, caller.lc_id, message.id, channel)
    return await show_message(conn, caller, service, message_id)


async def duplicate_message(conn: Conn, caller: Caller, service: Service, message_id: int) -> bodies.Message:
    """A copy named "<name> (copy)" with the same flags and channels (templates copied), without sendings."""
    async with conn.transaction():
        message = await _message_or_404(conn, caller, service, message_id)
        fields = {name: getattr(message, name) for name in repository.MESSAGE_COLUMNS} | {
            "name": f"{message.name} (copy)"
        }
        copy_id = await repository.insert_message(conn, caller.lc_id, service.name, fields)
        for position, channel in enumerate((await repository.get_channels(conn, [message.id]))[message.id]):
            template = {"type": channel.template_type, "content": channel.content, "wrapper_id": channel.wrapper_id}
            copied = {"type": channel.type, "sender": channel.sender, "from_email": channel.from_email,
                      "from_name": channel.from_name, "template": template}  # fmt: skip
            await repository.insert_channel(conn, caller.lc_id, copy_id, position, copied)
    return await show_message(conn, caller, service, copy_id)


async def delete_message(conn: Conn, caller: Caller, service: Service, message_id: int) -> bodies.Message:
    """Soft delete with its sendings; executing ones are cancelled first. Returns the message as it was."""
    async with conn.transaction():
        view = await show_message(conn, caller, service, message_id)
        await repository.soft_delete_message(conn, MessageId(view.id))
    return view


async def overview(conn: Conn, caller: Caller, service: Service) -> dict[str, Any]:
    """Messages per aggregated sendings status, and dispatch totals by transmission and delivery status."""
    raw = await repository.get_overview(conn, caller.lc_id, service.name)
    messages = {status: raw.messages.get(status, 0) for status in ("draft", "scheduled", "finished")}
    transmission = dict.fromkeys(("scheduled", "transmitted", "failed"), 0)
    delivery = dict.fromkeys(("pending", "delivered", "failed"), 0)
    for (transmission_status, delivery_status), n in raw.dispatches.items():
        transmission[transmission_status] += n
        delivery[delivery_status] += n
    return {
        "messages": {**messages, "total": sum(messages.values())},
        "dispatches": {"total": sum(transmission.values()), "transmission_status": transmission,
                       "delivery_status": delivery},
    }  # fmt: skip
