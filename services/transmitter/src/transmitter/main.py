"""Composition root of the transmitter: the provider chosen by configuration, the batch consumer."""

import asyncio

from shared.events import DispatchesPrepared
from shared.kafka import consume
from shared.logging import configure_logging
from shared.runtime import Runtime, open_runtime, wait_for_signal
from transmitter.config import TransmitterSettings
from transmitter.handlers import on_dispatches_prepared
from transmitter.providers.base import Provider
from transmitter.providers.sandbox import SandboxProvider

GROUP_ID = "transmitter"


def make_provider(settings: TransmitterSettings, runtime: Runtime) -> Provider:
    if settings.sms_provider != "sandbox":
        raise SystemExit(f"unknown SMS_PROVIDER {settings.sms_provider!r}; available: sandbox")
    return SandboxProvider(
        runtime.pool,
        settings.sandbox_receipts_url,
        settings.sandbox_webhook_secret,
        settings.sandbox_receipt_delay_seconds,
    )


async def serve(settings: TransmitterSettings) -> None:
    providers: list[Provider] = []

    def register(runtime: Runtime) -> None:
        provider = make_provider(settings, runtime)
        providers.append(provider)
        consume(
            runtime.broker, settings, DispatchesPrepared, GROUP_ID, on_dispatches_prepared(runtime, settings, provider)
        )

    async with open_runtime("transmitter", settings, register):
        await wait_for_signal()
    for provider in providers:
        await provider.close()


def run() -> None:
    settings = TransmitterSettings()
    configure_logging("transmitter", settings.log_level, settings.log_json)
    asyncio.run(serve(settings))
