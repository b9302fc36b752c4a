"""Composition root of the preparer."""

import gc
from collections.abc import Callable

from preparer.config import PreparerSettings
from preparer.handlers import on_preparation_range, on_sending_scheduled
from shared.events import PreparationRangeDue, SendingScheduled
from shared.events.catalog import consumer_group
from shared.kafka import consume
from shared.logging import configure_logging
from shared.runtime import Runtime
from shared.worker import run_worker, start

SCHEDULED_GROUP = consumer_group("preparer", SendingScheduled)
RANGES_GROUP = consumer_group("preparer", PreparationRangeDue)


def tune_garbage_collector() -> None:
    """Preparation allocates millions of short-lived objects, nearly all freed by reference counting; with
    the default threshold (700 allocations) the cyclic collector ran every few recipients and took a quarter
    of the time. The objects of start-up are frozen out of its scans."""
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)


def register(settings: PreparerSettings) -> Callable[[Runtime], None]:
    """The preparer's consumers: due sendings, and the ranges of large ones."""

    def setup(runtime: Runtime) -> None:
        consume(runtime.broker, settings, SendingScheduled, SCHEDULED_GROUP, on_sending_scheduled(runtime, settings))
        consume(runtime.broker, settings, PreparationRangeDue, RANGES_GROUP, on_preparation_range(runtime, settings))

    return setup


def run() -> None:
    tune_garbage_collector()
    settings = PreparerSettings()
    configure_logging("preparer", settings.log_level, settings.log_json)
    start(run_worker("preparer", settings, register(settings)))
