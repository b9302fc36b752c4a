"""Events of the sending lifecycle."""

from typing import ClassVar, Literal

from pydantic import Field

from shared.domain import SendingId
from shared.events.base import Event
from shared.events.topics import PREPARATION_RANGE, SENDING_SCHEDULED, SENDING_STATUS
from shared.ledger import Stats


class SendingScheduled(Event):
    """The sending is due for preparation (key: sending id)."""

    topic: ClassVar[str] = SENDING_SCHEDULED
    type: Literal["sending.scheduled"] = "sending.scheduled"
    sending_id: SendingId

    def key(self) -> str:
        return str(self.sending_id)


class PreparationRangeDue(Event):
    """One range of a large sending's recipients is to be prepared (key: sending id and range, so the
    ranges of one sending spread over the partitions and the preparer replicas that own them)."""

    topic: ClassVar[str] = PREPARATION_RANGE
    type: Literal["preparation.range"] = "preparation.range"
    sending_id: SendingId
    range_no: int

    def key(self) -> str:
        return f"{self.sending_id}:{self.range_no}"


class SendingStatusChanged(Event):
    """A sending's status changed (events spec §2; key: sending id): for other platform services and, through
    webhooks, API clients. Published after the change committed, at least once, always with the same
    `event_id`; `sequence` only grows within a sending."""

    topic: ClassVar[str] = SENDING_STATUS
    type: Literal["sending.status"] = "sending.status"
    sequence: int = Field(ge=1, description="the sending's status changes so far, this one included")
    lc: str = Field(description="the LC's slug")
    service: str
    message_id: int
    sending_id: SendingId
    request_id: str | None = Field(default=None, description="the sending.requested that created it; null via HTTP")
    status: str
    previous_status: str | None = Field(description="null when the sending was created")
    stats: Stats = Field(description="the sending's ledger when the event was published (spec §2.2)")

    def key(self) -> str:
        return str(self.sending_id)
