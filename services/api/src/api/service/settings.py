"""LC-level reads and sender identities: services, merge properties, settings, history (spec §2.5)."""

from typing import Any

from api import bodies, checks, views
from api.errors import ErrorTree, InvalidParameters, NotFound
from api.permits import SERVICES
from api.repository import messages as message_repository
from api.repository import settings as repository
from api.repository.rows import HistoryRow, SenderIdentityRow
from api.schemas import SenderIdentityPayload
from api.tokens import Caller
from shared.db import Conn
from shared.domain import ChannelType
from shared.formats import iso_ms

MEMBER_FIELDS = {
    "id": 150, "msisdn": "4740769126", "email": "piotr@example.com", "app_token": "c6OE_joK28g:APA91b",
    "app_platform": "android",
}  # fmt: skip
RESERVED = {"member.id": 150, "member.secret_id": "8f14e45f", "sending.id": 1000016, "message.name": "My message"}
CHANNEL_SETTINGS = {
    "sms": ("sender_type", "sender_value"),
    "email": ("from_name", "from_email"),
    "push": ("android_app_id", "ios_app_id"),
}


def services_of(caller: Caller) -> dict[str, Any]:
    """The services this token may use."""
    usable = [s for s in SERVICES.values() if caller.may(s.permit)]
    return {"services": [{"name": s.name, "marketing": s.marketing} for s in usable]}


async def merge_properties(conn: Conn, caller: Caller) -> dict[str, Any]:
    """Member fields, every member property key seen in the LC (with an example), and the reserved names."""
    found = [{"name": k, "source": "member", "example": v} for k, v in MEMBER_FIELDS.items()]
    found += [
        {"name": name, "source": "member_properties", "example": example}
        for name, example in await repository.member_property_examples(conn, caller.lc_id)
    ]
    found += [{"name": k, "source": "reserved", "example": v} for k, v in RESERVED.items()]
    return {"merge_properties": found}


async def messaging_settings(conn: Conn, caller: Caller) -> dict[str, Any]:
    """The LC's channel defaults; a channel it cannot use is null."""
    channels = (await message_repository.get_loyalty_club_settings(conn, caller.lc_id)).get("channels") or {}
    return {
        "channels": {
            name: None if channels.get(name) is None else {k: channels[name].get(k) for k in keys}
            for name, keys in CHANNEL_SETTINGS.items()
        }
    }


def _identity_view(row: SenderIdentityRow) -> bodies.SenderIdentity:
    return bodies.SenderIdentity(id=row.id, type=row.type, value=row.value, created_at=iso_ms(row.created_at))


async def list_sender_identities(conn: Conn, caller: Caller, per_page: int, page_no: int) -> dict[str, Any]:
    rows, total = await repository.list_sender_identities(conn, caller.lc_id, per_page, (page_no - 1) * per_page)
    return {
        "sender_identities": [_identity_view(r) for r in rows],
        "pagination_info": views.pagination_info(total, per_page, page_no),
    }


async def create_sender_identity(conn: Conn, caller: Caller, payload: SenderIdentityPayload) -> bodies.SenderIdentity:
    """An approved sms sender, checked like a channel's sender; a value the LC has already is a 422."""
    tree = ErrorTree()
    path: list[str | int] = ["sender_identity"]
    value = checks.check_sender(tree, path, payload.type, payload.value)
    if not tree:
        created = await repository.insert_sender_identity(conn, caller.lc_id, payload.type, value)
        if created is not None:
            return _identity_view(created)
        tree.add([*path, "value"], payload.value, "invalid", "is already a sender identity of this LC")
    raise InvalidParameters(tree)


async def delete_sender_identity(conn: Conn, caller: Caller, identity_id: int) -> bodies.SenderIdentity:
    deleted = await repository.delete_sender_identity(conn, caller.lc_id, identity_id)
    if deleted is None:
        raise NotFound("Sender identity not found")
    return _identity_view(deleted)


def history_item(row: HistoryRow) -> bodies.HistoryItem:
    """One dispatch as the member's messaging history shows it; a cleaned one shows no content."""
    content = {} if row.cleaned_at else (row.content or {})
    sender = row.sender or {}
    return bodies.HistoryItem(
        id=row.id, type=row.type, created_at=iso_ms(row.created_at),
        content=content.get("body"), subject=content.get("subject"),
        sender=sender.get("value") if row.type == ChannelType.SMS else None,
        msisdn=row.msisdn, email=row.email,
        from_name=row.from_name if row.type == ChannelType.EMAIL else None,
        from_address=row.from_email if row.type == ChannelType.EMAIL else None,
        url=content.get("url"), image=content.get("image_url"), data=content.get("data"),
        app_token=row.app_token, message_id=row.message_id, sending_id=row.sending_id,
        member_id=row.member_id, transmitted_at=iso_ms(row.transmitted_at),
        delivery_status=row.delivery_status,
    )  # fmt: skip


async def messaging_history(
    conn: Conn, caller: Caller, member_id: int, types: list[str] | None, per_page: int, page_no: int
) -> dict[str, Any]:
    rows, total = await repository.member_history(
        conn, caller.lc_id, member_id, types, per_page, (page_no - 1) * per_page
    )
    return {
        "messages": [history_item(r) for r in rows],
        "pagination_info": views.pagination_info(total, per_page, page_no),
    }
