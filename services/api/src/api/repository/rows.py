"""The rows the api's repositories hand out: frozen dataclasses, one per shape read, never a record or a dict.

Each is read with its own column list (`columns(Row, "alias")`), in field order, so `Row(*record)` builds it
positionally: a column added by a migration changes nothing here until a field asks for it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Self

import asyncpg

from shared.domain import MessageId, SendingId

if TYPE_CHECKING:
    from _typeshed import DataclassInstance


def columns(row: type[DataclassInstance], alias: str = "", **aliases: str) -> str:
    """`a.x, a.y, …`: the row's fields as a SELECT list, each of table `alias` unless `aliases` names another
    for it (`sender="c"`: c.sender); names come from the dataclass only."""

    def qualified(name: str) -> str:
        table = aliases.get(name, alias)
        return f"{table}.{name}" if table else name

    return ", ".join(qualified(f.name) for f in dataclasses.fields(row))


class _Row:
    @classmethod
    def of(cls, record: asyncpg.Record) -> Self:
        return cls(*record)

    @classmethod
    def maybe(cls, record: asyncpg.Record | None) -> Self | None:
        return None if record is None else cls(*record)


@dataclass(frozen=True, slots=True)
class MessageRow(_Row):
    id: MessageId
    service: str
    name: str
    shorten_urls: bool
    track_in_shortener: bool
    campaign_id: int | None
    marketing: bool | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ChannelRow(_Row):
    """A message's channel joined with its own template."""

    id: int
    type: str
    sender: dict[str, Any] | None
    from_email: str | None
    from_name: str | None
    created_at: datetime
    updated_at: datetime
    template_id: int
    wrapper_id: int | None
    template_type: str
    content: dict[str, Any]
    template_created_at: datetime
    template_updated_at: datetime


@dataclass(frozen=True, slots=True)
class SendingRow(_Row):
    id: SendingId
    message_id: MessageId
    audience_id: int | None
    status: str
    draft: bool
    priority: int | None
    channels_preference: list[str] | None
    properties: dict[str, Any]
    scheduled_at: datetime | None
    scheduled_with: dict[str, Any] | None
    prescheduled: bool
    recipients_count: int
    members_count: int | None
    dispatches_count: int | None
    suppressed_count: int | None
    unreachable_count: int | None
    transmitted_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class DispatchRow(_Row):
    id: int
    sending_id: SendingId
    type: str
    content: dict[str, Any] | None
    member_id: int | None
    msisdn: str | None
    email: str | None
    app_token: str | None
    transmission_status: str
    delivery_status: str
    external_delivery_status: str | None
    error: str | None
    created_at: datetime
    updated_at: datetime
    scheduled_at: datetime | None
    transmitted_at: datetime | None
    delivered_at: datetime | None
    cleaned_at: datetime | None


@dataclass(frozen=True, slots=True)
class SendingsSummary:
    """Every live sending's status of one message, and its latest sending."""

    statuses: list[str]
    latest: SendingRow | None


@dataclass(frozen=True, slots=True)
class Overview:
    """Messages of a service per aggregated status, and its dispatches per (transmission, delivery) status."""

    messages: dict[str, int]
    dispatches: dict[tuple[str, str], int]


@dataclass(frozen=True, slots=True)
class SendingMemberRow(_Row):
    """A member of a sending, with the identifiers its dispatches used."""

    id: int
    type: str
    msisdn: str | None
    email: str | None
    app_tokens: list[str]


@dataclass(frozen=True, slots=True)
class AudienceRow(_Row):
    id: int
    name: str | None
    conditions: list[Any]
    inline: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class TemplateRow(_Row):
    """A standalone template (a channel's own copy is read as part of its ChannelRow)."""

    id: int
    name: str | None
    type: str
    content: dict[str, Any]
    wrapper_id: int | None
    tags: list[str]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class SenderIdentityRow(_Row):
    id: int
    type: str
    value: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class HistoryRow(_Row):
    """A member's dispatch with the channel it went by (its sender, from name and address)."""

    id: int
    type: str
    content: dict[str, Any] | None
    msisdn: str | None
    email: str | None
    app_token: str | None
    member_id: int | None
    sending_id: int
    delivery_status: str
    created_at: datetime
    transmitted_at: datetime | None
    cleaned_at: datetime | None
    message_id: int
    sender: dict[str, Any] | None
    from_name: str | None
    from_email: str | None
