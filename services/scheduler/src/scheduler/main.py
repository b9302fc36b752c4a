"""Composition root of the scheduler: the scheduling loop and the LISTEN that wakes it."""

import asyncio
from collections.abc import Callable

import asyncpg
import structlog

from scheduler.config import SchedulerSettings
from scheduler.service import run_retention, run_scheduler
from shared.domain import SENDINGS_DUE_CHANNEL
from shared.logging import configure_logging
from shared.runtime import Runtime
from shared.worker import run_worker, start

log = structlog.get_logger(__name__)


async def listen_for_due_sendings(url: str, wake: asyncio.Event) -> None:
    """Set `wake` on every NOTIFY from the api; reconnect if the connection drops (polling covers the gap)."""
    while True:
        try:
            conn = await asyncpg.connect(url)
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("listen_connect_failed", error=repr(exc)[:200])
            await asyncio.sleep(1)
            continue
        lost = asyncio.Event()
        try:
            conn.add_termination_listener(lambda _, event=lost: event.set())
            await conn.add_listener(SENDINGS_DUE_CHANNEL, lambda *_: wake.set())
            wake.set()  # anything notified while we were not listening is picked up now
            await lost.wait()
            log.warning("listen_connection_lost")
        finally:
            await conn.close()


def register(settings: SchedulerSettings) -> Callable[[Runtime], None]:
    def setup(runtime: Runtime) -> None:
        wake = asyncio.Event()
        runtime.spawn("listen", lambda: listen_for_due_sendings(settings.database_url, wake))
        runtime.spawn("scheduler", lambda: run_scheduler(runtime.pool, runtime.broker, settings, wake))
        runtime.spawn("retention", lambda: run_retention(runtime.pool, settings))

    return setup


def run() -> None:
    settings = SchedulerSettings()
    configure_logging("scheduler", settings.log_level, settings.log_json)
    start(run_worker("scheduler", settings, register(settings)))
