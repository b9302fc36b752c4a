"""Prometheus metrics of every service, in the default registry, served at `/metrics`.

Counters move where the work is done (after its transaction committed), so a scrape after a sending shows
exactly what happened: dispatches prepared per channel; transmitted and failed per channel and provider;
delivery receipts applied per provider and status, and those dropped unread; provider latency and retries;
dead-lettered messages; HTTP request durations. Consumer lag is read from the consumers at scrape time;
sendings by status come from the database (the api's scrape).
"""

import time
from typing import TYPE_CHECKING, Any

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

if TYPE_CHECKING:
    from faststream.kafka import KafkaBroker

DISPATCHES_PREPARED = Counter("messaging_dispatches_prepared", "Dispatches written by the preparer", ["channel"])
DISPATCHES_TRANSMITTED = Counter(
    "messaging_dispatches_transmitted", "Dispatches the provider accepted", ["channel", "provider"]
)
DISPATCHES_FAILED = Counter(
    "messaging_dispatches_failed", "Dispatches that failed at transmission", ["channel", "provider", "reason"]
)
RECEIPTS_APPLIED = Counter(
    "messaging_delivery_receipts", "Delivery receipts by what became of them", ["provider", "outcome"]
)
RECEIPTS_MALFORMED = Counter(
    "messaging_delivery_receipts_malformed",
    "Provider reports dropped unread from a batch otherwise stored",
    ["provider"],
)
RECEIPTS_WAITING = Gauge("messaging_delivery_receipts_waiting", "Receipts in the inbox waiting for their dispatch")
DISPATCHES_DELIVERED = Counter(
    "messaging_dispatches_delivery_final", "Dispatches reaching a final delivery status", ["provider", "status"]
)
PROVIDER_LATENCY = Histogram(
    "messaging_provider_request_seconds", "Time of one provider call", ["provider"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)  # fmt: skip
PROVIDER_RETRIES = Counter("messaging_provider_retries", "Transient provider refusals tried again", ["provider"])
DEAD_LETTERED = Counter("messaging_dead_lettered", "Messages sent to <topic>.dlq", ["topic"])
HTTP_REQUESTS = Histogram(
    "messaging_http_request_seconds", "HTTP requests served", ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)  # fmt: skip
CONSUMER_LAG = Gauge("messaging_consumer_lag", "Messages not yet consumed", ["topic", "partition", "group"])
SENDINGS = Gauge("messaging_sendings", "Sendings by status", ["status"])


def subscriber_consumers(subscriber: Any) -> list[Any]:
    """The Kafka consumers of a FastStream subscriber: one, or one per worker (`consume(..., workers=N)`)."""
    subgroup = getattr(subscriber, "consumer_subgroup", None)
    if subgroup:
        return list(subgroup)
    consumer = getattr(subscriber, "consumer", None)
    return [] if consumer is None else [consumer]


async def update_consumer_lag(broker: "KafkaBroker") -> None:
    """Lag per assigned partition: the partition's end offset minus the consumer's position."""
    for subscriber in broker.subscribers:
        group = str(getattr(subscriber, "group_id", None) or "")
        for consumer, partition in [(c, p) for c in subscriber_consumers(subscriber) for p in c.assignment()]:
            end = consumer.highwater(partition)
            if end is None:
                continue
            position = await consumer.position(partition)
            CONSUMER_LAG.labels(partition.topic, str(partition.partition), group).set(max(0, end - position))


def exposition() -> tuple[bytes, str]:
    """The metrics text and its content type."""
    return generate_latest(), CONTENT_TYPE_LATEST


class HttpMetricsMiddleware:
    """ASGI middleware timing every HTTP request by method, route template (the documented path) and status."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        status = 500

        async def send_wrapper(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            # As documented (`/v1/messages/{service_name}`), without the path convertors (`:int`, `:service`).
            matched = scope.get("route")
            route = getattr(matched, "path_format", None) or getattr(matched, "path", None) or "unmatched"
            HTTP_REQUESTS.labels(scope["method"], route, str(status)).observe(time.monotonic() - started)
