"""Events of dispatches moving from preparation to transmission."""

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.domain import DispatchId, SendingId, TransmissionStatus
from shared.events.base import Event
from shared.events.topics import DISPATCH_TRANSMITTED, DISPATCHES_PREPARED

MAX_DISPATCHES_PER_EVENT = 1000


class DispatchesPrepared(Event):
    """A batch of dispatches of one sending is ready to send (key: sending id).

    An empty batch asks the transmitter only to check whether the sending is complete.
    """

    topic: ClassVar[str] = DISPATCHES_PREPARED
    type: Literal["dispatches.prepared"] = "dispatches.prepared"
    sending_id: SendingId
    dispatch_ids: list[DispatchId] = Field(max_length=MAX_DISPATCHES_PER_EVENT)

    def key(self) -> str:
        return str(self.sending_id)


class TransmissionOutcome(BaseModel):
    """What happened to one dispatch at the provider."""

    model_config = ConfigDict(frozen=True)

    dispatch_id: DispatchId
    outcome: Literal[TransmissionStatus.TRANSMITTED, TransmissionStatus.FAILED]
    provider_message_id: str | None = None
    error: str | None = None


class DispatchTransmitted(Event):
    """Outcomes of one transmitted batch (key: sending id)."""

    topic: ClassVar[str] = DISPATCH_TRANSMITTED
    type: Literal["dispatch.transmitted"] = "dispatch.transmitted"
    sending_id: SendingId
    outcomes: list[TransmissionOutcome]

    def key(self) -> str:
        return str(self.sending_id)
