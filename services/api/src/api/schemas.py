"""Request payloads of the API: the shape of each body, checked by pydantic.

Checks that need context (the LC's settings, the caller's permits, the message's channels, the clock for
relative schedules) live in `service.py`; errors of both kinds land in the same 422 tree.
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import phonenumbers
from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    field_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

CHANNEL_TYPES = ("sms", "email", "push")
TEMPLATE_TYPES = ("plain", "email", "bee_email", "push", "generic")
RELATIVE_SCHEDULE_FORMAT = r"^(?<number>\d+) (?<unit>second|minute|hour|day|week|month|year)s?$"
_RELATIVE_RE = re.compile(RELATIVE_SCHEDULE_FORMAT.replace("(?<", "(?P<"))
ALPHANUMERIC_SENDER_FORMAT = r"^[A-Za-z0-9 ]{2,11}$"
# What OpenAPI shows of a sender: alphanumeric, or an international number (then checked against the numbering
# plan, which no pattern can say).
SENDER_FORMAT = r"^(?:[A-Za-z0-9 ]{2,11}|(?:\+|00)?[0-9 ]{4,24})$"
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_INLINE_RECIPIENTS = 10_000


@dataclass(frozen=True)
class _OneOf:
    """Pydantic metadata: the value must be one of `allowed`, answered as `inclusion`, shown as an enum."""

    allowed: tuple[str, ...]

    def _check(self, value: str) -> str:
        if value not in self.allowed:
            raise PydanticCustomError("inclusion", "is not included in the list", {"in": list(self.allowed)})
        return value

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_after_validator_function(self._check, handler(source))

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema["enum"] = list(self.allowed)
        return json_schema


def one_of(*allowed: str) -> _OneOf:
    """Metadata for `Annotated[str, one_of(...)]`: `inclusion` with the allowed values, an enum in OpenAPI."""
    return _OneOf(allowed)


@dataclass(frozen=True)
class _Shown:
    """Pydantic metadata: keys OpenAPI shows of a value its validators check (validation is not changed)."""

    keys: tuple[tuple[str, Any], ...]

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema.update(dict(self.keys))
        return json_schema


def shown(**keys: Any) -> _Shown:
    """Metadata for `Annotated[..., shown(format="email")]`: what a generated client should know of the value."""
    return _Shown(tuple(keys.items()))


def normalize_msisdn(value: str) -> str:
    """E.164 digits without `+` (input may carry `+` or `00`), validated against the numbering plan."""
    digits = value.strip().replace(" ", "")
    if digits.startswith("00"):
        digits = digits[2:]
    digits = digits.removeprefix("+")
    try:
        number = phonenumbers.parse("+" + digits)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not digits.isdigit() or not phonenumbers.is_valid_number(number):
        raise PydanticCustomError("invalid_msisdn", "is not a valid phone number")
    return f"{number.country_code}{number.national_number}"


def check_email(value: str) -> str:
    if not _EMAIL_RE.match(value.strip()):
        raise PydanticCustomError("invalid_email", "is not a valid email address")
    return value.strip()


def parse_iso8601(value: Any) -> datetime:
    """An ISO 8601 time with any offset (a time without one is taken as UTC)."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = None
        if parsed is not None:
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise PydanticCustomError("invalid_iso_8601_time", "is not a valid ISO 8601 time")


ChannelType = Annotated[str, one_of(*CHANNEL_TYPES)]
Msisdn = Annotated[str, AfterValidator(normalize_msisdn)]
Email = Annotated[str, AfterValidator(check_email), shown(format="email")]


class Payload(BaseModel):
    """Unknown keys are refused (`unknown_attribute`): no mass assignment of ids, statuses or counters."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class TemplateDefinition(Payload):
    type: Annotated[str, one_of(*TEMPLATE_TYPES)]
    content: dict[str, Any]
    wrapper_id: int | None = None


class TemplateChoice(Payload):
    type: Annotated[str, one_of("inline", "reference")]
    definition: TemplateDefinition | None = Field(default=None, validation_alias=AliasChoices("definition", "data"))
    id: int | None = None


class Sender(Payload):
    type: Annotated[str, one_of("alphanumeric", "international")]
    value: Annotated[
        str,
        shown(
            pattern=SENDER_FORMAT,
            description="alphanumeric: 2 to 11 letters, digits or spaces; international: a valid MSISDN",
        ),
    ]


class ChannelPayload(Payload):
    """A channel; `template` is required when creating, optional when updating (kept when left out)."""

    type: ChannelType
    template: TemplateChoice | None = None
    sender: Sender | None = None
    from_email: Email | None = None
    from_name: str | None = None


class Schedule(Payload):
    type: Annotated[str, one_of("immediate", "absolute", "relative")]
    # Any offset is accepted (none means UTC); a non-string is refused as `invalid_iso_8601_time`.
    at: Annotated[Any, shown(type="string", format="date-time")] | None = None
    # The pattern without its group names: Python and ECMAScript name groups differently.
    in_: Annotated[str, shown(pattern=re.sub(r"\(\?<\w+>", "(?:", RELATIVE_SCHEDULE_FORMAT))] | None = Field(
        default=None, alias="in"
    )
    prescheduled: bool = False

    @field_validator("at")
    @classmethod
    def _at_is_iso8601(cls, value: Any) -> Any:
        if value is not None:
            parse_iso8601(value)
        return value  # kept as given: the payload is echoed back as `scheduled_with`

    def at_time(self) -> datetime | None:
        """`at` as a timezone-aware time."""
        return None if self.at is None else parse_iso8601(self.at)

    @field_validator("in_")
    @classmethod
    def _in_matches_format(cls, value: str | None) -> str | None:
        if value is not None and not _RELATIVE_RE.match(value):
            raise PydanticCustomError("invalid", "is invalid", {"format": RELATIVE_SCHEDULE_FORMAT})
        return value

    def relative_amount(self) -> tuple[int, str]:
        """(number, unit) of a relative schedule's `in`."""
        match = _RELATIVE_RE.match(self.in_ or "")
        assert match is not None
        return int(match["number"]), match["unit"]


class AudiencePayload(Payload):
    type: Annotated[str, one_of("reference", "inline")]
    id: int | None = None
    conditions: list[dict[str, Any]] | None = None


class RecipientPayload(Payload):
    member_id: int | None = None
    msisdn: Msisdn | None = None
    email: Email | None = None
    app_token: str | None = None
    properties: dict[str, Any] = Field(default_factory=dict)


class SendingPayload(Payload):
    draft: bool = False
    priority: int | None = Field(default=None, ge=1, le=10)
    channels_preference: list[ChannelType] | None = None
    schedule: Schedule | None = None
    audience: AudiencePayload | None = None
    recipients: list[RecipientPayload] | None = Field(default=None, max_length=MAX_INLINE_RECIPIENTS)
    properties: dict[str, Any] = Field(default_factory=dict)


class MessagePayload(Payload):
    name: str = Field(min_length=1)
    shorten_urls: bool = True
    track_in_shortener: bool = False
    campaign_id: int | None = None
    marketing: bool | None = None
    channels: list[ChannelPayload] = Field(min_length=1)
    sending: SendingPayload | None = None


class CreateMessageRequest(Payload):
    message: MessagePayload


class CreateSendingRequest(Payload):
    sending: SendingPayload


class MessageUpdate(Payload):
    """Partial update: keys absent are kept; a key present with null clears it (where it may be empty)."""

    name: str | None = Field(default=None, min_length=1)
    shorten_urls: bool | None = None
    track_in_shortener: bool | None = None
    campaign_id: int | None = None
    marketing: bool | None = None
    channels: list[ChannelPayload] | None = Field(default=None, min_length=1)


class UpdateMessageRequest(Payload):
    message: MessageUpdate


class SendingUpdate(Payload):
    """Partial update of a draft or scheduled sending; `schedule: null` unschedules it (back to draft)."""

    draft: bool | None = None
    priority: int | None = Field(default=None, ge=1, le=10)
    channels_preference: list[ChannelType] | None = None
    schedule: Schedule | None = None
    audience: AudiencePayload | None = None
    recipients: list[RecipientPayload] | None = Field(default=None, max_length=MAX_INLINE_RECIPIENTS)
    properties: dict[str, Any] | None = None


class UpdateSendingRequest(Payload):
    sending: SendingUpdate


MAX_BULK_OPERATIONS = 10


class BulkOperation(Payload):
    type: Annotated[str, one_of("create", "update", "delete")]
    entity: Annotated[str, one_of("message", "sending")]
    params: dict[str, Any] = Field(default_factory=dict)
    payload: dict[str, Any] | None = None


class BulkRequest(Payload):
    operations: list[BulkOperation] = Field(min_length=1, max_length=MAX_BULK_OPERATIONS)


class SenderIdentityPayload(Payload):
    type: Annotated[str, one_of("alphanumeric", "international")]
    value: str = Field(min_length=1)


class CreateSenderIdentityRequest(Payload):
    sender_identity: SenderIdentityPayload


class AudienceBody(Payload):
    name: str | None = Field(default=None, min_length=1)
    conditions: list[Any] | None = None


class AudienceRequest(Payload):
    audience: AudienceBody
