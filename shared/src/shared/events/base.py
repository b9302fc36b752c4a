"""The envelope every Kafka event shares: id, time, type and version, serialized with orjson."""

from datetime import datetime
from typing import ClassVar, Self
from uuid import UUID, uuid4

import orjson
from pydantic import BaseModel, ConfigDict, Field

from shared.formats import utcnow


class Event(BaseModel):
    """A frozen, versioned event; subclasses name their topic and carry ids, never personal data."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    topic: ClassVar[str]

    event_id: UUID = Field(default_factory=uuid4)
    occurred_at: datetime = Field(default_factory=utcnow)
    type: str
    version: int = 1

    def key(self) -> str:
        """The Kafka key: events of one key keep their order (the catalogue documents each one's key)."""
        raise NotImplementedError(f"{type(self).__name__} names no Kafka key")

    def to_bytes(self) -> bytes:
        """The event as JSON bytes for Kafka."""
        return orjson.dumps(self.model_dump(mode="json"))

    @classmethod
    def from_bytes(cls, raw: bytes) -> Self:
        """Parse an event of this class from Kafka bytes (raises pydantic.ValidationError)."""
        return cls.model_validate_json(raw)
