"""Composition root of the api service: settings, logging, runtime, routes."""

import contextlib
from collections.abc import AsyncIterator, Callable

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from api.config import ApiSettings
from api.error_handlers import install_error_handlers
from api.handlers import on_member_deleted, on_member_upserted, on_sending_requests
from api.http import JsonResponse
from api.middleware import BodyLimitMiddleware, IdempotencyMiddleware, RateLimitMiddleware
from api.openapi import install_openapi
from api.routes import audiences, bulks, health, messages, sendings, short_links, templates
from api.routes import settings as lc_settings
from shared.events import MemberDeleted, MemberUpserted, SendingRequested
from shared.events.catalog import consumer_group
from shared.http_service import serve_http
from shared.kafka import consume, consume_batch
from shared.logging import configure_logging
from shared.metrics import HttpMetricsMiddleware
from shared.runtime import Runtime, open_runtime

UPSERTS_GROUP = consumer_group("api", MemberUpserted)
DELETIONS_GROUP = consumer_group("api", MemberDeleted)
REQUESTS_GROUP = consumer_group("api", SendingRequested, batch=True)


def register(settings: ApiSettings) -> Callable[[Runtime], None]:
    """The api keeps the members read model from the member service's events, and creates the sendings other
    platform services request."""

    def register(runtime: Runtime) -> None:
        if settings.consume_member_events:
            consume(runtime.broker, settings, MemberUpserted, UPSERTS_GROUP, on_member_upserted(runtime))
            consume(runtime.broker, settings, MemberDeleted, DELETIONS_GROUP, on_member_deleted(runtime))
        if settings.consume_sending_requests:
            handler = on_sending_requests(runtime, settings)
            consume_batch(runtime.broker, settings, SendingRequested, REQUESTS_GROUP, handler)

    return register


def create_app(settings: ApiSettings) -> FastAPI:
    """The FastAPI app; its lifespan opens the pool and broker and closes them on shutdown."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_runtime("api", settings, register(settings)) as runtime:
            app.state.runtime = runtime
            yield

    # /docs and /redoc with their assets served from the package: they render on a machine without internet.
    app = FastAPIOffline(
        title="Messaging API",
        version="0.1.0",
        description="Messages with SMS, email and push channels, sendings and dispatches (Placewise-compatible).",
        lifespan=lifespan,
        default_response_class=JsonResponse,
    )
    install_error_handlers(app)
    install_openapi(app)
    # Each added middleware wraps the ones before: an LC over its rate is refused before anything else is done.
    app.add_middleware(IdempotencyMiddleware)
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(RateLimitMiddleware, rate=settings.rate_limit_per_second, burst=settings.rate_limit_burst)
    app.add_middleware(HttpMetricsMiddleware)  # outermost: every answer is timed, a 429 too
    app.include_router(health.router)
    app.include_router(short_links.router)
    app.include_router(bulks.router)
    app.include_router(lc_settings.router)
    app.include_router(audiences.router)
    app.include_router(sendings.router)
    app.include_router(templates.router)
    app.include_router(messages.router)
    return app


def run() -> None:
    """Serve the API on API_HOST:API_PORT until SIGTERM (in-flight requests are drained)."""
    settings = ApiSettings()
    configure_logging("api", settings.log_level, settings.log_json)
    app = create_app(settings)
    serve_http(app, settings.api_host, settings.api_port)
