"""The Kafka side of every service: a broker factory, safe consumers and the dead-letter helper.

Consumers commit offsets only after the handler returned, that is after its Postgres transaction
committed (FastStream's Kafka default acknowledges first; design §3 forbids it). A handler that raises
is retried with backoff by rewinding the partition; after `consumer_max_attempts` tries, or at once for a
message that cannot even be parsed, the message goes to `<topic>.dlq` with the error and is acknowledged,
so a partition never stalls.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any, TypeVar

import structlog
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import ValidationError

from shared.config import ServiceSettings
from shared.events.base import Event
from shared.events.topics import dead_letter_topic
from shared.metrics import DEAD_LETTERED

log = structlog.get_logger(__name__)

E = TypeVar("E", bound=Event)


def make_broker(settings: ServiceSettings, client_id: str) -> KafkaBroker:
    """A broker for one service: quiet per-message logs, acks from all in-sync replicas."""
    return KafkaBroker(
        settings.kafka_bootstrap_servers,
        client_id=client_id,
        acks="all",
        # FastStream logs every message received at this level; DEBUG keeps INFO logs meaningful.
        log_level=logging.DEBUG,
        graceful_timeout=30.0,
    )


async def publish_events(broker: KafkaBroker, events: Iterable[Event], key: Callable[[Any], str]) -> None:
    """Publish events concurrently and wait until the broker confirmed every one of them."""
    pending = [
        await broker.publish(event.to_bytes(), topic=event.topic, key=key(event).encode(), no_confirm=True)
        for event in events
    ]
    if pending:
        await asyncio.gather(*pending)


async def dead_letter(broker: KafkaBroker, topic: str, message: KafkaMessage, error: BaseException) -> None:
    """Send a message that failed permanently to `<topic>.dlq`, with the error in its headers."""
    await dead_letter_record(broker, topic, message.body, getattr(message.raw_message, "key", None), error)


async def dead_letter_record(
    broker: KafkaBroker, topic: str, body: bytes, key: bytes | None, error: BaseException
) -> None:
    headers = {
        "x-original-topic": topic,
        "x-error-type": type(error).__name__,
        "x-error": str(error)[:2000],
    }
    await broker.publish(body, topic=dead_letter_topic(topic), key=key, headers=headers)
    DEAD_LETTERED.labels(topic).inc()
    log.error("message_dead_lettered", topic=topic, error=str(error)[:500], error_type=type(error).__name__)


class _Attempts:
    """Counts tries per message (topic, partition, offset) while it is being redelivered."""

    def __init__(self) -> None:
        self._tries: dict[tuple[str, int, int], int] = {}

    def next(self, message: KafkaMessage) -> tuple[tuple[str, int, int], int]:
        raw = message.raw_message
        if isinstance(raw, tuple):  # a batch: counted by its first record, where a redelivery starts again
            raw = raw[0]
        ident = (str(getattr(raw, "topic", "")), int(getattr(raw, "partition", 0)), int(getattr(raw, "offset", 0)))
        self._tries[ident] = self._tries.get(ident, 0) + 1
        return ident, self._tries[ident]

    def forget(self, ident: tuple[str, int, int]) -> None:
        self._tries.pop(ident, None)


def event_context(event: Event) -> dict[str, Any]:
    """The ids every log line of a handler carries: the sending, the dispatch, the range, the LC."""
    fields = ("sending_id", "dispatch_id", "range_no", "loyalty_club", "member_id", "provider_message_id")
    return {name: getattr(event, name) for name in fields if getattr(event, name, None) is not None}


@contextlib.contextmanager
def log_context(**ids: Any) -> Iterator[None]:
    """Bind `ids` to every log line of one handler call; whatever the handler binds (the LC once it read the
    sending) is dropped afterwards, so nothing leaks into the next message's lines."""
    saved = structlog.contextvars.get_contextvars()
    structlog.contextvars.bind_contextvars(**ids)
    try:
        yield
    finally:
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(**saved)


def consume(
    broker: KafkaBroker,
    settings: ServiceSettings,
    event_type: type[E],
    group_id: str,
    handler: Callable[[E], Awaitable[None]],
    workers: int = 1,
) -> None:
    """Subscribe `handler` to the topic of `event_type` in consumer group `group_id`, safely (see module doc).

    With `workers` above one the process runs that many consumers of the group, each handling the messages
    of its own partitions one at a time, in order, while the others handle theirs.
    """
    topic = event_type.topic
    attempts = _Attempts()

    async def on_message(message: KafkaMessage) -> None:
        try:
            event = event_type.from_bytes(message.body)
        except ValidationError as exc:
            await dead_letter(broker, topic, message, exc)
            return
        ident, attempt = attempts.next(message)
        try:
            with log_context(**event_context(event)):
                await handler(event)
        except Exception as exc:
            if attempt >= settings.consumer_max_attempts:
                attempts.forget(ident)
                await dead_letter(broker, topic, message, exc)
                return
            log.warning("handler_failed_will_retry", topic=topic, attempt=attempt, error=repr(exc)[:500])
            await asyncio.sleep(settings.consumer_retry_backoff_seconds * 2 ** (attempt - 1))
            raise  # NACK_ON_ERROR rewinds the partition: the same message comes again.
        attempts.forget(ident)

    on_message.__name__ = f"on_{topic.replace('.', '_')}"
    broker.subscriber(
        topic,
        group_id=group_id,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        auto_offset_reset="earliest",
        title=f"{group_id}:{topic}",
        max_workers=workers,
    )(on_message)


def consume_batch(
    broker: KafkaBroker,
    settings: ServiceSettings,
    event_type: type[E],
    group_id: str,
    handler: Callable[[list[E]], Awaitable[None]],
    max_records: int = 500,
) -> None:
    """Like `consume`, for a handler that takes up to `max_records` events at once (applied in bulk).

    Unparsable records go to `<topic>.dlq` at once; a batch whose handler keeps failing goes there whole.
    """
    topic = event_type.topic
    attempts = _Attempts()

    async def on_batch(message: KafkaMessage) -> None:
        records = list(message.raw_message)
        events: list[E] = []
        parsed: list[tuple[bytes, bytes | None]] = []
        for record in records:
            body = record.value or b""
            try:
                events.append(event_type.from_bytes(body))
                parsed.append((body, record.key))
            except ValidationError as exc:
                await dead_letter_record(broker, topic, body, record.key, exc)
        if not events:
            return
        ident, attempt = attempts.next(message)
        try:
            with log_context():
                await handler(events)
        except Exception as exc:
            if attempt >= settings.consumer_max_attempts:
                attempts.forget(ident)
                for body, key in parsed:
                    await dead_letter_record(broker, topic, body, key, exc)
                return
            log.warning("batch_handler_failed_will_retry", topic=topic, attempt=attempt, error=repr(exc)[:500])
            await asyncio.sleep(settings.consumer_retry_backoff_seconds * 2 ** (attempt - 1))
            raise
        attempts.forget(ident)

    on_batch.__name__ = f"on_{topic.replace('.', '_')}_batch"
    broker.subscriber(
        topic,
        group_id=group_id,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        auto_offset_reset="earliest",
        batch=True,
        max_records=max_records,
        batch_timeout_ms=50,
        title=f"{group_id}:{topic}",
    )(on_batch)
