"""Events of the sending lifecycle."""

from typing import ClassVar, Literal

from shared.domain import SendingId
from shared.events.base import Event
from shared.events.topics import SENDING_SCHEDULED


class SendingScheduled(Event):
    """The sending is due for preparation (key: sending id)."""

    topic: ClassVar[str] = SENDING_SCHEDULED
    type: Literal["sending.scheduled"] = "sending.scheduled"
    sending_id: SendingId
