"""What every response body shares: the error bodies, pagination, timestamps and the enumerated strings."""

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict

from api.schemas import CHANNEL_TYPES, TEMPLATE_TYPES, one_of
from shared.domain import SendingStatus

Timestamp = str  # ISO 8601 UTC with milliseconds and Z

TemplateType = Annotated[str, one_of(*TEMPLATE_TYPES)]

ChannelType = Annotated[str, one_of(*CHANNEL_TYPES)]

SendingStatusName = Annotated[str, one_of(*SendingStatus)]


class Body(BaseModel):
    model_config = ConfigDict(extra="allow")


class Error(Body):
    error: str


class ErrorDetail(Body):
    value: Any = None
    error: str
    options: dict[str, Any]
    message: str


class InvalidParameters(Body):
    error: str
    details: dict[str, Any]


class NotReady(Body):
    error: str
    waiting_for: list[str] | None = None


class Status(Body):
    status: str


class PaginationInfo(Body):
    total_count: int
    per_page: int
    total_pages: int
    current_page: int
    next_page: int | None
    prev_page: int | None
    is_first_page: bool
    is_last_page: bool
    is_out_of_range: bool
