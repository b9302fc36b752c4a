"""The interface every provider adapter implements."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from shared.domain import DispatchId


@dataclass(frozen=True)
class Outgoing:
    """One dispatch to send: where, what, through which channel."""

    dispatch_id: DispatchId
    channel: str
    recipient: str
    content: dict[str, Any]
    sender: str | None = None


@dataclass(frozen=True)
class SendResult:
    """The provider's answer: a message id when accepted, an error when refused."""

    dispatch_id: DispatchId
    provider_message_id: str | None = None
    error: str | None = None


class Provider(Protocol):
    """A provider of one or more channels."""

    name: str

    async def send(self, message: Outgoing) -> SendResult:
        """Hand one message to the provider."""
        ...

    async def recorded(self, results: Sequence[SendResult]) -> None:
        """Called once the results are committed (a provider may only now report on them)."""
        ...

    async def close(self) -> None: ...
