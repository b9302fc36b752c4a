"""Composition root of the scheduler: the scheduling loop, the LISTEN that wakes it, and retention."""

import asyncio
from collections.abc import Callable

from scheduler.config import SchedulerSettings
from scheduler.repository import listen_for_due_sendings
from scheduler.service import run_retention, run_scheduler
from shared.logging import configure_logging
from shared.runtime import Runtime
from shared.worker import run_worker, start


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
