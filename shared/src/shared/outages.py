"""What an outage of PostgreSQL or the broker looks like from here, and how a loop waits one out.

An error of this kind says nothing about the work in hand (the database restarted, the broker is away or lost a
topic): the work is tried again once the dependency answers, never dead-lettered or failed because of it.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg
import structlog
from aiokafka.errors import KafkaError

log = structlog.get_logger(__name__)

T = TypeVar("T")

SAY_AGAIN_SECONDS = 30.0  # a long outage is told once when it starts, then once per this, not once per try

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
    """Call `attempt` until it succeeds: one of `errors` (an outage, by default) is waited out with exponential
    backoff, and logged as `event` when it starts, then every SAY_AGAIN_SECONDS while it lasts; anything else
    raises."""
    delay = 0.1
    since = said = 0.0
    while True:
        try:
            result = await attempt()
        except errors as exc:
            now = time.monotonic()
            if not since or now - said >= SAY_AGAIN_SECONDS:
                waited = round(now - since) if since else 0
                log.warning(event, what=what, error=repr(exc)[:300], waited_seconds=waited)
                since, said = since or now, now
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay)
            continue
        if since:
            log.info("dependency_back", what=what, waited_seconds=round(time.monotonic() - since, 1))
        return result
