"""What every service process holds: settings, a Postgres pool and a Kafka broker, opened and closed in order.

Services start in any order: the runtime waits for PostgreSQL and the broker with backoff instead of
crashing, creates the topics, and beats in `service_heartbeats` so `/readyz` can tell when the whole
stack can take a sending.
"""

import asyncio
import contextlib
import os
import signal
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import asyncpg
import structlog
from faststream.kafka import KafkaBroker

from shared.config import ServiceSettings
from shared.db.pool import create_pool
from shared.events.topics import ensure_topics
from shared.health import serve_health
from shared.kafka import make_broker
from shared.metrics import subscriber_consumers

log = structlog.get_logger(__name__)

T = TypeVar("T")

HEARTBEAT_SECONDS = 2.0
# A service whose last beat is older than this is taken for gone.
HEARTBEAT_STALE_SECONDS = 10.0


async def retry_until_ready(what: str, attempt: Callable[[], Awaitable[T]], max_delay: float = 5.0) -> T:
    """Call `attempt` until it succeeds, backing off exponentially; dependencies may start after us."""
    delay = 0.1
    while True:
        try:
            return await attempt()
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, Exception) as exc:
            log.warning("dependency_not_ready", dependency=what, error=repr(exc)[:300], retry_in=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay)


@dataclass
class Runtime:
    """The open resources of one service process."""

    service: str
    settings: ServiceSettings
    pool: asyncpg.Pool
    broker: KafkaBroker
    instance: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    started: bool = False
    _deferred: list[tuple[Awaitable[Any], str]] = field(default_factory=list)

    def spawn(self, coro: Awaitable[Any], name: str) -> None:
        """Run a background task for the life of the runtime (from the broker's start); failures are logged."""
        if not self.started:
            self._deferred.append((coro, name))
            return

        async def guarded() -> None:
            try:
                await coro
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background_task_failed", task=name)
                raise

        task = asyncio.create_task(guarded(), name=name)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def consumers_assigned(self) -> bool:
        """True once every subscriber of the broker has partitions assigned (it will see new events); of a
        subscriber with several workers, one with partitions is enough (the others may have none to get)."""
        return all(
            any(consumer.assignment() for consumer in subscriber_consumers(sub)) for sub in self.broker.subscribers
        )

    async def beat_forever(self) -> None:
        """Record this instance as alive (and ready once its consumers are assigned) every few seconds."""
        while True:
            await self.pool.execute(
                "INSERT INTO service_heartbeats (service, instance, ready, beat_at) VALUES ($1, $2, $3, now()) "
                "ON CONFLICT (service, instance) DO UPDATE SET ready = excluded.ready, beat_at = now()",
                self.service,
                self.instance,
                self.consumers_assigned(),
            )
            await asyncio.sleep(HEARTBEAT_SECONDS)


@contextlib.asynccontextmanager
async def open_runtime(
    service: str, settings: ServiceSettings, register: Callable[[Runtime], None]
) -> AsyncIterator[Runtime]:
    """Open pool and broker (waiting for them), let `register` add subscribers and tasks, start, then close."""
    await retry_until_ready(
        "kafka",
        lambda: ensure_topics(
            settings.kafka_bootstrap_servers, settings.topic_partitions, settings.topic_replication_factor
        ),
    )
    pool = await retry_until_ready(
        "postgres",
        lambda: create_pool(settings.database_url, settings.db_pool_min_size, settings.db_pool_max_size),
    )
    broker = make_broker(settings, client_id=service)
    runtime = Runtime(service=service, settings=settings, pool=pool, broker=broker)
    try:
        register(runtime)
        await retry_until_ready("kafka", broker.start)
        runtime.started = True
        for coro, name in [(runtime.beat_forever(), "heartbeat"), *runtime._deferred]:
            runtime.spawn(coro, name)
        log.info("service_started", instance=runtime.instance)
        yield runtime
    finally:
        # Stop taking messages first; the broker finishes the message in hand before it returns.
        await broker.stop()
        for task in list(runtime.tasks):
            task.cancel()
        await asyncio.gather(*runtime.tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await pool.execute(
                "DELETE FROM service_heartbeats WHERE service = $1 AND instance = $2", service, runtime.instance
            )
        await pool.close()
        log.info("service_stopped")


async def wait_for_signal() -> None:
    """Return on SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


async def run_worker(
    service: str,
    settings: ServiceSettings,
    register: Callable[[Runtime], None],
    after: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Run a worker service until SIGTERM/SIGINT, then shut down gracefully; probes on HEALTH_PORT if set.

    `after` runs once the broker stopped and the batch in hand finished (to close provider connections).
    """
    async with open_runtime(service, settings, register) as runtime:
        probes = None
        if settings.health_port:
            probes = await serve_health(runtime, settings.health_host, settings.health_port)
        try:
            await wait_for_signal()
        finally:
            if probes is not None:
                await probes.cleanup()
    if after is not None:
        await after()
