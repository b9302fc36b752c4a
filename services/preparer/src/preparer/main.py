"""Composition root of the preparer."""

import asyncio

from preparer.config import PreparerSettings
from preparer.handlers import on_sending_scheduled
from shared.events import SendingScheduled
from shared.kafka import consume
from shared.logging import configure_logging
from shared.runtime import Runtime, run_worker

GROUP_ID = "preparer"


def run() -> None:
    settings = PreparerSettings()
    configure_logging("preparer", settings.log_level, settings.log_json)

    def register(runtime: Runtime) -> None:
        consume(runtime.broker, settings, SendingScheduled, GROUP_ID, on_sending_scheduled(runtime, settings))

    asyncio.run(run_worker("preparer", settings, register))
