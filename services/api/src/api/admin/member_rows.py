"""One member row of an import checked and turned into a staging row (spec §3.1).

A plain fast path checks the common shapes; anything it is not sure of goes to the pydantic model
`MemberRecord`, which has the last word and gives the reasons.
"""

from datetime import datetime
from functools import cache
from re import Pattern, compile
from typing import Annotated, Any

import orjson
import phonenumbers
from pydantic import ConfigDict, Field, TypeAdapter, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from api.schemas import Email, Msisdn, Payload, check_email
from shared.domain import INT64_MAX

MAX_MEMBER_ID = INT64_MAX

# One staging row, in the order of the staging table's columns.
Record = tuple[int, str | None, str | None, str | None, str | None, str | None, str, str, str, str, str, datetime]


class MemberRecord(Payload):
    """One member as spec §3.1 describes it."""

    model_config = ConfigDict(extra="forbid")

    id: int = Field(ge=1, le=MAX_MEMBER_ID)
    secret_id: str | None = None
    msisdn: Msisdn | None = None
    email: Email | None = None
    app_token: str | None = None
    app_platform: str | None = None
    properties: dict[str, Any] = Field(default_factory=dict)
    consents: dict[str, Any] = Field(default_factory=dict)
    sms_status: str = "enabled"
    email_status: str = "enabled"
    push_status: str = "enabled"
    updated_at: datetime | None = None

    @field_validator("msisdn", "email", "app_token", "app_platform", "secret_id", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if value == "" else value


class Unsure(Exception):
    """The fast path cannot vouch for a row: the model decides."""


_MEMBER_FIELDS = frozenset(MemberRecord.model_fields)
# Pydantic's own validators for the two fields whose lax parsing the fast path does not redo.
_ID = TypeAdapter(Annotated[int, Field(ge=1, le=MAX_MEMBER_ID)])
_UPDATED_AT = TypeAdapter(datetime | None)
_NO_METADATA = compile("")  # matches everything: send such numbers to the full parse


@cache
def _national_prefix(country_code: int) -> Pattern[str] | None:
    """The numbering plan's national-prefix-for-parsing of `country_code` (None: it has none)."""
    region = phonenumbers.region_code_for_country_code(country_code)
    metadata = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)
    if metadata is None:
        return _NO_METADATA
    return compile(metadata.national_prefix_for_parsing) if metadata.national_prefix_for_parsing else None


# The number types of a numbering plan, the commonest first: a number is valid when it matches the plan's
# general description and the description of any one type (phonenumbers finds *which* type, trying all).
_NUMBER_TYPES = ("mobile", "fixed_line", "toll_free", "premium_rate", "shared_cost", "voip", "personal_number",
                 "pager", "uan", "voicemail")  # fmt: skip
# A description: its possible lengths (empty: any) and its national number pattern (None: matches nothing).
_Desc = tuple[frozenset[int], Pattern[str] | None]


def _desc(desc: Any) -> _Desc:
    if desc is None or not desc.national_number_pattern:
        return frozenset({-1}), None
    return frozenset(desc.possible_length), compile(desc.national_number_pattern)


def _matches(desc: _Desc, national: str) -> bool:
    lengths, pattern = desc
    return (not lengths or len(national) in lengths) and pattern is not None and pattern.fullmatch(national) is not None


@cache
def _plans(country_code: int) -> tuple[tuple[Pattern[str] | None, _Desc, tuple[_Desc, ...]], ...]:
    """Per region of the country code, in phonenumbers' order: its leading digits, general and type descriptions."""
    plans = []
    for region in phonenumbers.COUNTRY_CODE_TO_REGION_CODE[country_code]:
        metadata = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)
        if metadata is None:
            continue
        leading = compile(metadata.leading_digits) if metadata.leading_digits is not None else None
        types = tuple(_desc(getattr(metadata, name)) for name in _NUMBER_TYPES)
        plans.append((leading, _desc(metadata.general_desc), types))
    return tuple(plans)


def is_valid_number(country_code: int, national: str) -> bool:
    """`phonenumbers.is_valid_number` for a national number without leading zeros, an order of magnitude
    faster: the region is chosen as phonenumbers chooses it, and one type that matches is enough."""

    def valid_in(general: _Desc, types: tuple[_Desc, ...]) -> bool:
        return _matches(general, national) and any(_matches(desc, national) for desc in types)

    plans = _plans(country_code)
    if len(phonenumbers.COUNTRY_CODE_TO_REGION_CODE[country_code]) == 1:
        return bool(plans) and valid_in(plans[0][1], plans[0][2])
    for leading, general, types in plans:
        if leading is not None:
            if leading.match(national):
                return valid_in(general, types)
        elif valid_in(general, types):
            return True
    return False


def fast_msisdn(value: str) -> str:
    """`normalize_msisdn` for digits `phonenumbers.parse` would take as they are; raises `Unsure` otherwise.

    Skipping the parse is safe only when it would change nothing: no leading zero (country code or national
    number) and no national prefix it might strip. The validity check is still the numbering plan's.
    """
    digits = value.strip().replace(" ", "")
    if digits.startswith("00"):
        digits = digits[2:]
    digits = digits.removeprefix("+")
    if not (digits.isascii() and digits.isdigit()) or digits[0] == "0":
        raise Unsure
    for size in (1, 2, 3):
        country_code = int(digits[:size])
        if country_code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            break
    else:
        raise Unsure
    national = digits[size:]
    prefix = _national_prefix(country_code)
    if not 2 <= len(national) <= 17 or national[0] == "0" or (prefix is not None and prefix.match(national)):
        raise Unsure
    if not is_valid_number(country_code, national):
        raise Unsure
    return digits


def _optional_text(value: Any) -> str | None:
    if type(value) is str:
        return value or None
    if value is None:
        return None
    raise Unsure


def _text(value: Any) -> str:
    if type(value) is str:
        return value
    raise Unsure


def _json_object(value: Any) -> str:
    if type(value) is dict:
        return orjson.dumps(value).decode()
    raise Unsure


def fast_record(row: Any, now: datetime) -> Record:
    """The staging row of a member that surely passes the model, as the model would give it; else `Unsure`."""
    if type(row) is not dict or not _MEMBER_FIELDS.issuperset(row):
        raise Unsure
    member_id, msisdn, email, updated_at = row.get("id"), row.get("msisdn"), row.get("email"), row.get("updated_at")
    try:
        if type(member_id) is not int:
            member_id = _ID.validate_python(_text(member_id))
        if updated_at is not None:
            updated_at = _UPDATED_AT.validate_python(updated_at)
        if email:
            email = check_email(_text(email))
    except (ValidationError, PydanticCustomError) as exc:
        raise Unsure from exc
    if not 1 <= member_id <= MAX_MEMBER_ID:
        raise Unsure
    get = row.get
    return (
        member_id, _optional_text(get("secret_id")), fast_msisdn(_text(msisdn)) if msisdn else _optional_text(msisdn),
        _optional_text(email), _optional_text(get("app_token")), _optional_text(get("app_platform")),
        _json_object(get("properties", {})), _json_object(get("consents", {})), _text(get("sms_status", "enabled")),
        _text(get("email_status", "enabled")), _text(get("push_status", "enabled")), updated_at or now,
    )  # fmt: skip


def to_record(row: Any, now: datetime) -> Record:
    """The staging row of a member; raises the model's `ValidationError` for a row to reject."""
    try:
        return fast_record(row, now)
    except Unsure:
        m = MemberRecord.model_validate(row).model_dump()
    return (
        m["id"], m["secret_id"], m["msisdn"], m["email"], m["app_token"], m["app_platform"],
        orjson.dumps(m["properties"]).decode(), orjson.dumps(m["consents"]).decode(), m["sms_status"],
        m["email_status"], m["push_status"], m["updated_at"] or now,
    )  # fmt: skip
