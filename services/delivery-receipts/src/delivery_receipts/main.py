"""Composition root of delivery-receipts: the webhook app and the `delivery.status` consumer in one process."""

import contextlib
from collections.abc import AsyncIterator, Callable

from fastapi import FastAPI

from delivery_receipts.config import ReceiptsSettings
from delivery_receipts.handlers import on_delivery_statuses
from delivery_receipts.routes import router
from delivery_receipts.service import retry_waiting_receipts
from delivery_receipts.unsubscribe import router as unsubscribe_router
from shared.events import DeliveryStatusReceived
from shared.events.catalog import consumer_group
from shared.http_service import serve_http
from shared.kafka import consume_batch
from shared.logging import configure_logging
from shared.metrics import HttpMetricsMiddleware
from shared.runtime import Runtime, open_runtime

GROUP = consumer_group("delivery-receipts", DeliveryStatusReceived, batch=True)


def register(settings: ReceiptsSettings) -> Callable[[Runtime], None]:
    """The `delivery.status` consumer and the inbox's own loop for receipts that had to wait."""

    def setup(runtime: Runtime) -> None:
        consume_batch(runtime.broker, settings, DeliveryStatusReceived, GROUP, on_delivery_statuses(runtime, settings))
        runtime.spawn("receipts-inbox", lambda: retry_waiting_receipts(runtime.pool, settings))

    return setup


def create_app(settings: ReceiptsSettings) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_runtime("delivery-receipts", settings, register(settings)) as runtime:
            app.state.runtime = runtime
            yield

    app = FastAPI(title="Delivery receipts", version="0.1.0", lifespan=lifespan)
    app.state.settings = settings
    app.include_router(router)
    app.include_router(unsubscribe_router)
    app.add_middleware(HttpMetricsMiddleware)
    return app


def run() -> None:
    settings = ReceiptsSettings()
    configure_logging("delivery-receipts", settings.log_level, settings.log_json)
    app = create_app(settings)
    serve_http(app, settings.receipts_host, settings.receipts_port)
