"""The interface every provider adapter implements."""

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
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
    # The signed link of a marketing email to a member: the mail gets List-Unsubscribe (one-click) headers.
    unsubscribe_url: str | None = None


@dataclass(frozen=True)
class SendResult:
    """The provider's answer: a message id when accepted, an error when refused."""

    dispatch_id: DispatchId
    provider_message_id: str | None = None
    error: str | None = None
    provider: str = ""  # which provider answered (a batch may mix channels, hence providers)
    channel: str = ""
    answered_at: datetime | None = None  # when the answer came (the dispatch's `transmitted_at`)
    # False only for a dispatch that failed after its claim was given back (the provider kept refusing it).
    held_claim: bool = True


# The error of a push whose token the provider no longer knows (FCM `UNREGISTERED`): the member's token goes.
UNREGISTERED_TOKEN = "unregistered_token"  # noqa: S105 - an error code, not a secret


class TransientProviderError(Exception):
    """The provider did not take the message this time (5xx, 429, a connection that failed before the
    request was sent): safe to try again, after `retry_after` seconds when the provider said so."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


def retry_after(header: str | None) -> float | None:
    """Seconds to wait from a `Retry-After` header: a number of seconds or an HTTP date (RFC 9110 §10.2.3), a
    date already past being 0; None when absent or unreadable (`inf` and `nan` too: one would pause the provider
    for good)."""
    if not header:
        return None
    try:
        seconds = float(header)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class Provider(Protocol):
    """A provider of one or more channels."""

    name: str

    async def send(self, message: Outgoing) -> SendResult:
        """Hand one message to the provider."""
        ...

    async def close(self) -> None: ...


class ChannelProviders:
    """The provider of each channel, chosen by configuration (`SMS_PROVIDER`, ...), behind one interface."""

    name = "channels"

    def __init__(self, by_channel: dict[str, Provider]) -> None:
        self.by_channel = by_channel

    async def close(self) -> None:
        for provider in self._distinct():
            await provider.close()

    def _distinct(self) -> list[Provider]:
        return list({id(p): p for p in self.by_channel.values()}.values())
