"""Pure preparation logic: which channel each recipient gets, what variables its template sees, its row."""

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from liquid.exceptions import LiquidError

from shared.domain import IDENTIFIER_BY_CHANNEL, ChannelType, SendingId
from shared.preparation.shortener import Shortener
from shared.templating import CompiledTemplate, compile_content

CONSENT_BY_CHANNEL: dict[str, str] = {
    ChannelType.SMS: "sms_marketing",
    ChannelType.EMAIL: "email_marketing",
    ChannelType.PUSH: "push_marketing",
}
STATUS_BY_CHANNEL: dict[str, str] = {
    ChannelType.SMS: "sms_status",
    ChannelType.EMAIL: "email_status",
    ChannelType.PUSH: "push_status",
}
MEMBER_FIELDS = ("id", "msisdn", "email", "app_token", "app_platform")
# What each channel's dispatch content keeps of the rendered template.
CONTENT_KEYS_BY_CHANNEL = {
    "sms": ("body",),
    "email": ("subject", "body", "preheader"),
    "push": ("subject", "body", "url", "image_url", "data", "android_payload", "ios_payload"),
}


@dataclass(frozen=True)
class Channel:
    """One channel of the message, its template compiled once for the whole sending."""

    type: str
    content: Mapping[str, Any]
    compiled: Mapping[str, CompiledTemplate]
    from_header: str | None = None
    wrapper: Mapping[str, CompiledTemplate] = field(default_factory=dict)
    # What a dispatch of this channel keeps, in order: (attribute, its template or None, its constant value).
    attributes: tuple[tuple[str, CompiledTemplate | None, Any], ...] = ()

    def __post_init__(self) -> None:
        kept = [
            (k, self.compiled.get(k), self.content[k]) for k in CONTENT_KEYS_BY_CHANNEL[self.type] if k in self.content
        ]
        object.__setattr__(self, "attributes", tuple(kept))

    @classmethod
    def compile(
        cls,
        type_: str,
        content: Mapping[str, Any],
        from_header: str | None = None,
        wrapper_content: Mapping[str, Any] | None = None,
    ) -> "Channel":
        """Compile the template and, when it has one, its wrapper's attributes that wrap the template's."""
        wrapper = {k: v for k, v in compile_content(wrapper_content or {}).items() if k in content}
        return cls(type_, content, compile_content(content), from_header, wrapper)


@dataclass(frozen=True, slots=True)
class SendingToPrepare:
    """A sending with what its preparation needs of its message and audience (repository.get_sending_to_prepare)."""

    id: SendingId
    loyalty_club_id: int
    message_id: int
    status: str
    properties: Mapping[str, Any]
    channels_preference: list[str] | None
    scheduled_at: datetime | None
    message_name: str
    service: str
    marketing: bool
    shorten_urls: bool
    track_in_shortener: bool
    audience_conditions: list[dict[str, Any]] | None


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ costs a setattr call per field
class Recipient:
    """An inline recipient, or a member resolved from `member_id` (then `member` holds the member's row as
    `repository.MEMBER_COLUMNS` reads it: consents as `sms_marketing`, ... booleans)."""

    properties: Mapping[str, Any]
    member_id: int | None = None
    msisdn: str | None = None
    email: str | None = None
    app_token: str | None = None
    member: Mapping[str, Any] | None = None

    def identifier(self, channel: str) -> str | None:
        name = IDENTIFIER_BY_CHANNEL[channel]
        value = self.member.get(name) if self.member is not None else getattr(self, name)
        return str(value) if value else None

    def consented(self, channel: str) -> bool:
        """A member's marketing consent for the channel (`sms_marketing`, ...); inline non-members need none."""
        if self.member is None:
            return True
        return self.member.get(CONSENT_BY_CHANNEL[channel]) is True

    def channel_enabled(self, channel: str) -> bool:
        return self.member is None or self.member.get(STATUS_BY_CHANNEL[channel], "enabled") == "enabled"


class PlannedDispatch(NamedTuple):
    """One dispatch as planned, its fields in the order the preparer COPYs them (after the ids it adds): the
    named type is the contract between the planner and the COPY."""

    recipient_key: str
    type: str
    content: dict[str, Any] | None
    member_id: int | None
    msisdn: str | None
    email: str | None
    app_token: str | None
    transmission_status: str  # scheduled, or failed when its template did not render
    error: str | None


@dataclass
class Plan:
    """Rows to write and what could not be sent."""

    rows: list[PlannedDispatch] = field(default_factory=list)
    unreachable: int = 0
    suppressed: int = 0
    suppressed_by_channel: Counter[str] = field(default_factory=Counter)


def channel_order(channel_types: Sequence[str], preference: Sequence[str] | None) -> list[str]:
    """The message's channels in order, restricted and re-ordered by `channels_preference` when given."""
    if not preference:
        return list(channel_types)
    return [t for t in preference if t in channel_types]


def choose_channel(order: Sequence[str], recipient: Recipient) -> str | None:
    """The first channel whose identifier the recipient has and whose member status is enabled."""
    for channel in order:
        if recipient.identifier(channel) and recipient.channel_enabled(channel):
            return channel
    return None


def merge_variables(
    sending_properties: Mapping[str, Any], recipient: Recipient, sending_id: int, message_name: str
) -> dict[str, Any]:
    """Sending properties < member data (flat and under `member.`) < recipient properties; reserved names last."""
    member_data: dict[str, Any] = {}
    member = recipient.member
    if member is not None:
        member_data = {k: member.get(k) for k in MEMBER_FIELDS}
        member_data.update(member.get("properties") or {})
        member_data["id"] = member.get("id")  # reserved: no property may shadow them
        member_data["secret_id"] = member.get("secret_id")
    variables: dict[str, Any] = {**sending_properties, **member_data, **recipient.properties}
    variables["member"] = member_data
    variables["sending"] = {"id": sending_id}
    variables["message"] = {"name": message_name}
    return variables


def recipient_key(channel: str, recipient: Recipient) -> str:
    """One dispatch per recipient: a member by id, anyone else by the identifier used."""
    if recipient.member_id is not None:
        return f"member:{recipient.member_id}"
    return f"{IDENTIFIER_BY_CHANNEL[channel]}:{recipient.identifier(channel)}"


def render_dispatch(channel: Channel, variables: Mapping[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    """(content, None) or, when the template fails for this recipient, (None, reason).

    Only the attributes the channel's dispatches keep are rendered; each goes into its wrapper's
    `{{ content }}` when the template has a wrapper (spec §2.5).
    """
    content: dict[str, Any] = {}
    key = ""
    try:
        for key, template, constant in channel.attributes:
            value = constant if template is None else template.render(variables)
            wrapper = channel.wrapper.get(key) if channel.wrapper else None
            content[key] = value if wrapper is None else wrapper.render({**variables, "content": value})
    except LiquidError as exc:
        return None, f"render_failed: {key}: {exc}"
    if channel.type == ChannelType.EMAIL:
        content["from"] = channel.from_header
    return content, None


# Long: the per-recipient loop of every sending (20 000 a chunk); split into calls, it costs measurably more
def plan_dispatches(
    sending: SendingToPrepare,
    channels: Sequence[Channel],
    recipients: Iterable[Recipient],
    shortener: Shortener | None = None,
    render_limit: int | None = None,
) -> Plan:
    """One row per distinct recipient with a usable channel (and, for marketing, consent); others counted.

    With a shortener, the URLs of sms bodies become short links (spec §3.3, 5). With a render limit (the
    preview), rows past the limit are counted but not rendered (their content stays None).
    """
    by_type = {c.type: c for c in channels}
    order = channel_order([c.type for c in channels], sending.channels_preference)
    marketing = sending.marketing
    properties, sending_id, message_name = sending.properties, sending.id, sending.message_name
    plan = Plan()
    seen: set[str] = set()
    for recipient in recipients:
        # A member present twice (inline and in the audience) is one recipient: the first one.
        member_key = None if recipient.member_id is None else f"member:{recipient.member_id}"
        if member_key in seen:
            continue
        channel_type = choose_channel(order, recipient)
        if channel_type is None:
            if member_key:
                seen.add(member_key)
            plan.unreachable += 1
            continue
        if marketing and not recipient.consented(channel_type):
            if member_key:
                seen.add(member_key)
            plan.suppressed += 1
            plan.suppressed_by_channel[channel_type] += 1
            continue
        key = member_key or recipient_key(channel_type, recipient)
        if key in seen:  # an identifier present twice gets one dispatch: the first one
            continue
        seen.add(key)
        content: dict[str, Any] | None = None
        error: str | None = None
        if render_limit is None or len(plan.rows) < render_limit:
            variables = merge_variables(properties, recipient, sending_id, message_name)
            content, error = render_dispatch(by_type[channel_type], variables)
        if shortener is not None and content is not None and channel_type == ChannelType.SMS and content.get("body"):
            content["body"] = shortener.shorten(content["body"], key)
        address = recipient.identifier(channel_type)
        plan.rows.append(
            PlannedDispatch(
                key,
                channel_type,
                content,
                recipient.member_id,
                address if channel_type == ChannelType.SMS else None,
                address if channel_type == ChannelType.EMAIL else None,
                address if channel_type == ChannelType.PUSH else None,
                "failed" if error else "scheduled",
                error,
            )
        )
    return plan
