"""The Kafka side of every service: a broker factory, safe consumers and the dead-letter helper.

Consumers commit offsets only after the handler returned, that is after its Postgres transaction
committed (FastStream's Kafka default acknowledges first; design §3 forbids it). A handler that raises
is retried with backoff by rewinding the partition; after `consumer_max_attempts` tries, or at once for a
message that cannot even be parsed or whose handler raised `Unprocessable`, the message goes to `<topic>.dlq`
with the error and is acknowledged, so a partition never stalls. An outage of PostgreSQL or the broker is not
the message's fault: its handler is tried again for as long as the outage lasts, and the message is never
dead-lettered for it.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

import structlog
from faststream import AckPolicy
from faststream.exceptions import NackMessage
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import ValidationError

from shared.config import ServiceSettings
from shared.events.base import Event
from shared.events.topics import dead_letter_topic
from shared.in_hand import GRACEFUL_SECONDS, messages_in_hand
from shared.metrics import DEAD_LETTERED
from shared.outages import is_outage

log = structlog.get_logger(__name__)

E = TypeVar("E", bound=Event)
T = TypeVar("T")

ANNOUNCE_TIMEOUT_SECONDS = 10.0
OUTAGE_RETRY_SECONDS = 1.0  # between two tries of a message whose handler met an outage
# A consumer that stopped heartbeating this long (its process was killed) leaves the group, and its partitions go
# to the others: 6 s (Kafka's default until 3.0) rather than aiokafka's 10 s, as the rejoin after a SIGKILL takes
# about twice this on Tansu (measured: 19 s at 10 s, 12 s at 6 s), which is most of a restarted transmitter's
# recovery. Heartbeats are sent by a background task every third of it.
SESSION_TIMEOUT_MS = 6_000


class Unprocessable(Exception):
    """Raised by a handler for a message that no retry can help: it goes to `<topic>.dlq` at once, with this error
    in its headers, instead of holding its partition through `consumer_max_attempts` backoffs."""


def make_broker(settings: ServiceSettings, client_id: str) -> KafkaBroker:
    """A broker for one service: quiet per-message logs, acks from all in-sync replicas."""
    return KafkaBroker(
        settings.kafka_bootstrap_servers,
        client_id=client_id,
        acks="all",
        # FastStream logs every message received at this level; DEBUG keeps INFO logs meaningful. Its lines go
        # through the standard logging tree, hence through structlog's renderer (see shared.logging).
        logger=logging.getLogger("faststream.broker"),
        log_level=logging.DEBUG,
        graceful_timeout=GRACEFUL_SECONDS,
    )


async def publish_events(broker: KafkaBroker, events: Iterable[Event]) -> None:
    """Publish events concurrently, each under its own key, and wait until the broker confirmed every one."""
    pending = [
        await broker.publish(event.to_bytes(), topic=event.topic, key=event.key().encode(), no_confirm=True)
        for event in events
    ]
    if pending:
        await asyncio.gather(*pending)


_announcing: set[asyncio.Task[None]] = set()


def announce_in_background(broker: KafkaBroker, events: Sequence[Event]) -> None:
    """Publish events without making the caller wait for the broker: only for work already safe in Postgres,
    whose own retry loop covers an announcement that gets lost (the broker is away or slow)."""

    async def publish() -> None:
        try:
            await asyncio.wait_for(publish_events(broker, events), ANNOUNCE_TIMEOUT_SECONDS)
        except Exception as exc:
            log.warning("announcement_lost", events=len(events), error=repr(exc)[:300])

    task = asyncio.create_task(publish())
    _announcing.add(task)
    task.add_done_callback(_announcing.discard)


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


class Interrupted(Exception):
    """Raised by a handler that stopped before its message was done because the process is stopping: the message
    is not acknowledged, so the next consumer of its partition gets it again. Never an error, never dead-lettered."""


class _Attempts:
    """Counts tries per message (topic, partition, offset) while it is being redelivered, and decides what a
    failure means: an outage is waited out however long it lasts; `Unprocessable` goes to the dead-letter topic at
    once; any other error is tried again `consumer_max_attempts` times, then the message goes there."""

    def __init__(self, topic: str, settings: ServiceSettings) -> None:
        self._topic = topic
        self._settings = settings
        self._tries: dict[tuple[str, int, int], int] = {}

    async def run(
        self,
        message: KafkaMessage,
        call: Callable[[], Awaitable[None]],
        give_up: Callable[[Exception], Awaitable[None]],
    ) -> None:
        """Handle `message` by `call()`, with what every consumer shares: `Interrupted` gives the message back, any
        other error is judged by `failed`, and a message done (or given up) is forgotten."""
        ident, attempt = self._next(message)
        try:
            await call()
        except Interrupted:
            raise NackMessage() from None
        except Exception as exc:
            await self._failed(ident, attempt, exc, give_up)
            return
        self._forget(ident)

    def _next(self, message: KafkaMessage) -> tuple[tuple[str, int, int], int]:
        raw = message.raw_message
        if isinstance(raw, tuple):  # a batch: counted by its first record, where a redelivery starts again
            raw = raw[0]
        ident = (str(getattr(raw, "topic", "")), int(getattr(raw, "partition", 0)), int(getattr(raw, "offset", 0)))
        self._tries[ident] = self._tries.get(ident, 0) + 1
        return ident, self._tries[ident]

    def _forget(self, ident: tuple[str, int, int]) -> None:
        self._tries.pop(ident, None)

    async def _failed(
        self,
        ident: tuple[str, int, int],
        attempt: int,
        error: Exception,
        give_up: Callable[[Exception], Awaitable[None]],
    ) -> None:
        """After the handler raised `error`: returns once the message was given up (dead-lettered), else waits a
        backoff and raises `error` again, so that NACK_ON_ERROR rewinds the partition and the message comes again."""
        if is_outage(error):
            self._tries[ident] = attempt - 1  # not the message's fault: never counted toward the dead letter
            log.warning("handler_waiting_for_dependency", topic=self._topic, error=repr(error)[:300])
            await asyncio.sleep(OUTAGE_RETRY_SECONDS)
            raise error
        if attempt >= self._settings.consumer_max_attempts or isinstance(error, Unprocessable):
            self._forget(ident)
            await give_up(error)
            return
        log.warning("handler_failed_will_retry", topic=self._topic, attempt=attempt, error=repr(error)[:500])
        await asyncio.sleep(self._settings.consumer_retry_backoff_seconds * 2 ** (attempt - 1))
        raise error


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
    attempts = _Attempts(topic, settings)

    async def handle(message: KafkaMessage) -> None:
        try:
            event = event_type.from_bytes(message.body)
        except ValidationError as exc:
            await dead_letter(broker, topic, message, exc)
            return

        async def call() -> None:
            with log_context(**event_context(event)):
                await handler(event)

        await attempts.run(message, call, lambda error: dead_letter(broker, topic, message, error))

    _subscribe(broker, topic, group_id, handle, f"on_{topic.replace('.', '_')}", max_workers=workers)


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
    attempts = _Attempts(topic, settings)

    async def handle(message: KafkaMessage) -> None:
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

        async def call() -> None:
            with log_context():
                await handler(events)

        async def give_up(error: Exception) -> None:
            for body, key in parsed:
                await dead_letter_record(broker, topic, body, key, error)

        await attempts.run(message, call, give_up)

    name = f"on_{topic.replace('.', '_')}_batch"
    _subscribe(broker, topic, group_id, handle, name, batch=True, max_records=max_records, batch_timeout_ms=50)


def _subscribe(
    broker: KafkaBroker,
    topic: str,
    group_id: str,
    handle: Callable[[KafkaMessage], Awaitable[None]],
    name: str,
    **options: Any,
) -> None:
    """Register `handle` for `topic` in `group_id` with what every consumer here shares: offsets committed only
    after the handler returned, the session timeout, and messages given back while the process stops."""
    in_hand = messages_in_hand(broker)

    async def on_message(message: KafkaMessage) -> None:
        async with in_hand.holding():
            await handle(message)

    on_message.__name__ = name
    broker.subscriber(
        topic,
        group_id=group_id,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        auto_offset_reset="earliest",
        title=f"{group_id}:{topic}",
        session_timeout_ms=SESSION_TIMEOUT_MS,
        heartbeat_interval_ms=SESSION_TIMEOUT_MS // 3,
        **options,
    )(on_message)
