"""Checks of a payload that need more than its shape: templates, senders, schedules, recipients."""

import calendar
import re
from datetime import datetime, timedelta
from typing import Any

from pydantic_core import PydanticCustomError

from api.errors import ErrorTree
from api.schemas import (
    ALPHANUMERIC_SENDER_FORMAT,
    ChannelPayload,
    RecipientPayload,
    Schedule,
    TemplateDefinition,
    normalize_msisdn,
)
from shared.domain import IDENTIFIER_BY_CHANNEL
from shared.templating import TemplateLimitError, TemplateSyntaxError, check_template

# Which template types fit which channel (spec §2.1).
TEMPLATE_TYPES_BY_CHANNEL = {
    "sms": ("plain", "generic"),
    "email": ("email", "bee_email", "generic", "plain"),
    "push": ("push", "generic", "plain"),
}
# Content attributes per template type, and those that must be present.
CONTENT_KEYS = {
    "plain": ({"body"}, {"body"}),
    "email": ({"body", "subject", "preheader"}, {"body", "subject"}),
    "bee_email": ({"body", "subject", "preheader", "bee_json"}, {"subject", "bee_json"}),
    "push": (
        {"subject", "body", "url", "uri", "image_url", "data", "android_payload", "ios_payload"},
        {"body"},
    ),
    "generic": (
        {"body", "subject", "preheader", "url", "uri", "image_url", "data", "android_payload", "ios_payload"},
        set(),
    ),
}
_ALPHANUMERIC_SENDER = re.compile(ALPHANUMERIC_SENDER_FORMAT)
_SECONDS_PER_UNIT = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 604800}


def check_template_definition(
    tree: ErrorTree, path: list[str | int], channel_type: str, definition: TemplateDefinition
) -> None:
    """Template type fits the channel, content has the right keys, every string compiles as Liquid."""
    if definition.type not in TEMPLATE_TYPES_BY_CHANNEL[channel_type]:
        tree.add(
            [*path, "type"],
            definition.type,
            "template_does_not_match_channel",
            f"a {definition.type} template cannot be used by an {channel_type} channel",
        )
        return
    allowed, required = CONTENT_KEYS[definition.type]
    for key in sorted(required - definition.content.keys()):
        tree.add([*path, "content", key], None, "presence", "must be present")
    for key, value in definition.content.items():
        if key not in allowed:
            tree.add([*path, "content", key], value, "unknown_attribute", "is not a known attribute")
        elif isinstance(value, str):
            try:
                check_template(value)
            except TemplateLimitError as exc:
                tree.add(
                    [*path, "content", key],
                    value,
                    "invalid",
                    f"exceeds the template limits: {exc.message}",
                    {"limit": exc.message},
                )
            except TemplateSyntaxError as exc:
                tree.add(
                    [*path, "content", key],
                    value,
                    "liquid_syntax_error",
                    f"has a Liquid syntax error: {exc.message}",
                    {"syntax_error": exc.message},
                )


def check_sender(tree: ErrorTree, path: list[str | int], type_: str, value: str) -> str:
    """An sms sender: alphanumeric 2 to 11 letters, digits or spaces, or an international MSISDN (normalized)."""
    if type_ == "alphanumeric":
        if not _ALPHANUMERIC_SENDER.match(value):
            tree.add([*path, "value"], value, "invalid", "must be 2 to 11 letters, digits or spaces",
                     {"format": _ALPHANUMERIC_SENDER.pattern})  # fmt: skip
        return value
    try:
        return normalize_msisdn(value)
    except PydanticCustomError:
        tree.add([*path, "value"], value, "invalid_msisdn", "is not a valid phone number")
        return value


def resolve_sender(
    tree: ErrorTree, path: list[str | int], channel: ChannelPayload, lc_sms: dict[str, Any], approved: set[str]
) -> dict[str, str]:
    """The sms sender given, checked (and one of the LC's approved identities when it has any), or the LC's."""
    if channel.sender is None:
        return {"type": lc_sms.get("sender_type") or "alphanumeric", "value": lc_sms.get("sender_value") or ""}
    value = check_sender(tree, [*path, "sender"], channel.sender.type, channel.sender.value)
    if approved and value not in approved:
        tree.add([*path, "sender", "value"], channel.sender.value, "inclusion",
                 "is not an approved sender identity of this LC", {"in": sorted(approved)})  # fmt: skip
    return {"type": channel.sender.type, "value": value}


def add_months(moment: datetime, months: int) -> datetime:
    """Calendar months later, clamping the day (31 Jan + 1 month = 28/29 Feb)."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def schedule_time(schedule: Schedule, now: datetime) -> datetime:
    """When a valid schedule is due, counted from `now` for relative ones."""
    if schedule.type == "immediate":
        return now
    if schedule.type == "absolute":
        at = schedule.at_time()
        assert at is not None
        return at
    number, unit = schedule.relative_amount()
    if unit == "month":
        return add_months(now, number)
    if unit == "year":
        return add_months(now, 12 * number)
    return now + timedelta(seconds=number * _SECONDS_PER_UNIT[unit])


def check_schedule(tree: ErrorTree, path: list[str | int], schedule: Schedule, now: datetime) -> None:
    """`at` for absolute (in the future), `in` for relative."""
    if schedule.type == "absolute":
        at = schedule.at_time()
        if at is None:
            tree.add([*path, "at"], None, "presence", "must be present")
        elif at <= now:
            tree.add([*path, "at"], schedule.at, "must_be_in_the_future", "must be in the future")
    elif schedule.type == "relative" and schedule.in_ is None:
        tree.add([*path, "in"], None, "presence", "must be present")


def check_recipients(
    tree: ErrorTree, path: list[str | int], recipients: list[RecipientPayload], channel_types: list[str]
) -> None:
    """A recipient without `member_id` needs an identifier one of the message's channels can use."""
    usable = [IDENTIFIER_BY_CHANNEL[t] for t in channel_types]
    for index, recipient in enumerate(recipients):
        if recipient.member_id is None and not any(getattr(recipient, field) for field in usable):
            tree.add(
                [*path, index, "base"],
                None,
                "presence",
                f"needs member_id or one of {', '.join(usable)} for the message's channels",
            )
