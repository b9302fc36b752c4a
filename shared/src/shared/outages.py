"""What an outage of PostgreSQL or the broker looks like from here, and how a loop waits one out.

An error of this kind says nothing about the work in hand (the database restarted, the broker is away or lost a
topic): the work is tried again once the dependency answers, never dead-lettered or failed because of it.
"""

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg
import structlog
from aiokafka.errors import KafkaError

log = structlog.get_logger(__name__)

T = TypeVar("T")

UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,  # refused, reset, unreachable
    TimeoutError,
    asyncpg.PostgresConnectionError,  # the connection broke, or could not be made
    asyncpg.InterfaceError,  # the connection was closed under us
    asyncpg.exceptions.OperatorInterventionError,  # shutdown, crash recovery, "cannot connect now"
    asyncpg.exceptions.InsufficientResourcesError,  # too many connections, disk full
    KafkaError,
)


def is_outage(exc: BaseException) -> bool:
    """True for an error that comes from a dependency being away, not from the work itself."""
    return isinstance(exc, UNAVAILABLE)


async def retry_through_outages(
    what: str,
    attempt: Callable[[], Awaitable[T]],
    max_delay: float = 5.0,
    errors: tuple[type[BaseException], ...] = UNAVAILABLE,
    event: str = "dependency_unavailable",
) -> T:
    """Call `attempt` until it succeeds: one of `errors` (an outage, by default) is logged as `event` and waited
    out with exponential backoff; anything else raises."""
    delay = 0.1
    while True:
        try:
            return await attempt()
        except errors as exc:
            log.warning(event, what=what, error=repr(exc)[:300], retry_in=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay)
