"""Sendings requested by other platform services through Kafka (events spec §1), and the answer to an invalid one."""

from typing import Any, ClassVar, Literal

from pydantic import Field

from shared.events.base import Event
from shared.events.topics import SENDING_REJECTED, SENDING_REQUESTED


class SendingRequested(Event):
    """A platform service asks for a sending (key: request id): of an existing message (`message_id` and
    `sending`) or of a new one (`message`, with its first `sending`), exactly as the HTTP endpoints take them."""

    topic: ClassVar[str] = SENDING_REQUESTED
    type: Literal["sending.requested"] = "sending.requested"
    request_id: str = Field(min_length=1, max_length=200, description="idempotency: one sending per LC and request")
    requested_by: str = Field(description="the producing platform service")
    lc: str = Field(description="the LC's slug")
    service: str
    message_id: int | None = None
    sending: dict[str, Any] | None = Field(default=None, description="SendingPayload, with message_id")
    message: dict[str, Any] | None = Field(default=None, description="MessagePayload with its first sending")

    def key(self) -> str:
        return self.request_id


class SendingRejected(Event):
    """A sending.requested that was refused, with the error body the HTTP endpoint would have answered (key: request
    id). Its event id is derived from the request, so a redelivered request is refused under the same id."""

    topic: ClassVar[str] = SENDING_REJECTED
    type: Literal["sending.rejected"] = "sending.rejected"
    request_id: str
    lc: str
    service: str
    error: str
    details: dict[str, Any] | None = None

    def key(self) -> str:
        return self.request_id
