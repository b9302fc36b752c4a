"""Composition root of the scheduler: the scheduling loop, the sending.status relay, the LISTEN that wakes them,
and retention."""

import asyncio
from collections.abc import Callable

from scheduler.config import SchedulerSettings
from scheduler.repository import listen
from scheduler.service import run_retention, run_scheduler, run_status_relay
from shared.domain import SENDING_STATUS_CHANNEL, SENDINGS_DUE_CHANNEL
from shared.logging import configure_logging
from shared.runtime import Runtime
from shared.worker import run_worker, start


def register(settings: SchedulerSettings) -> Callable[[Runtime], None]:
    def setup(runtime: Runtime) -> None:
        due, status_changed = asyncio.Event(), asyncio.Event()
        wakes = {SENDINGS_DUE_CHANNEL: due, SENDING_STATUS_CHANNEL: status_changed}
        runtime.spawn("listen", lambda: listen(settings.database_url, wakes))
        runtime.spawn("scheduler", lambda: run_scheduler(runtime.pool, runtime.broker, settings, due))
        runtime.spawn("status-relay", lambda: run_status_relay(runtime.pool, runtime.broker, settings, status_changed))
        runtime.spawn("retention", lambda: run_retention(runtime.pool, settings))

    return setup


def run() -> None:
    settings = SchedulerSettings()
    configure_logging("scheduler", settings.log_level, settings.log_json)
    start(run_worker("scheduler", settings, register(settings)))
