"""Events of the sending lifecycle."""

from typing import ClassVar, Literal

from shared.domain import SendingId
from shared.events.base import Event
from shared.events.topics import PREPARATION_RANGE, SENDING_SCHEDULED


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
