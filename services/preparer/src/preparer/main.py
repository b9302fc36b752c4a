"""Composition root of the preparer."""

import asyncio

from preparer.config import PreparerSettings
from preparer.handlers import on_preparation_range, on_sending_scheduled
from shared.events import PreparationRangeDue, SendingScheduled
from shared.kafka import consume
from shared.logging import configure_logging
from shared.runtime import Runtime, run_worker

GROUP_ID = "preparer"
RANGES_GROUP_ID = "preparer-ranges"  # one group per topic: one group over two topics kept rebalancing


def run() -> None:
    settings = PreparerSettings()
    configure_logging("preparer", settings.log_level, settings.log_json)

    def register(runtime: Runtime) -> None:
        consume(runtime.broker, settings, SendingScheduled, GROUP_ID, on_sending_scheduled(runtime, settings))
        consume(runtime.broker, settings, PreparationRangeDue, RANGES_GROUP_ID, on_preparation_range(runtime, settings))

    asyncio.run(run_worker("preparer", settings, register))
