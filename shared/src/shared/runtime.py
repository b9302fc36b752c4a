"""What every service process holds: settings, a Postgres pool and a Kafka broker, opened and closed in order.

Services start in any order: the runtime waits for PostgreSQL and the broker with backoff instead of
crashing, creates the topics, and beats in `service_heartbeats` so `/readyz` can tell when the whole
stack can take a sending. Its background loops (the heartbeat, the broker watch, a service's own loops) survive
outages: a loop that raises is logged and run again after a backoff. A loop that ends, or a broker whose
consumers do not come back after it lost its topics, fails the process: it turns unready and stops with exit
code 1, for its supervisor (Kubernetes, `make up`) to start it again; it is never left half alive.
"""

import asyncio
import contextlib
import os
import signal
import socket
import time
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import asyncpg
import structlog
from faststream.kafka import KafkaBroker

from shared import heartbeats
from shared.config import ServiceSettings
from shared.db.pool import create_pool
from shared.events.topics import ensure_topics, missing_topics
from shared.in_hand import finish_messages_in_hand
from shared.kafka import make_broker
from shared.metrics import subscriber_consumers
from shared.outages import retry_through_outages

log = structlog.get_logger(__name__)

T = TypeVar("T")


def terminate_self() -> None:
    """Stop this process as SIGTERM does: gracefully, finishing the work in hand."""
    os.kill(os.getpid(), signal.SIGTERM)


BROKER_CHECK_TIMEOUT_SECONDS = 10.0


async def retry_until_ready(what: str, attempt: Callable[[], Awaitable[T]]) -> T:
    """Call `attempt` until it succeeds, whatever it raises: dependencies may start after us."""
    return await retry_through_outages(what, attempt, errors=(Exception,), event="dependency_not_ready")


def _host_port(database_url: str) -> str:
    """host:port of a database URL, without its credentials (for a log line)."""
    parts = urllib.parse.urlsplit(database_url)
    return f"{parts.hostname}:{parts.port or 5432}"


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
    failure: str | None = None  # why the process can no longer do its work; set once, never cleared
    stop_process: Callable[[], None] = terminate_self  # how a failed process stops (tests stop only the runtime)
    _deferred: list[tuple[str, Callable[[], Awaitable[Any]]]] = field(default_factory=list)
    _on_stop: list[Callable[[], None]] = field(default_factory=list)

    def on_stop(self, callback: Callable[[], None]) -> None:
        """Call `callback` as the process starts to stop, before the broker waits for the messages in hand: for
        a handler to stop taking new work and give the rest of its message back (see `shared.kafka.Interrupted`)."""
        self._on_stop.append(callback)

    def spawn(self, name: str, loop: Callable[[], Awaitable[Any]]) -> None:
        """Run `loop()` for the life of the runtime (from the broker's start). When it raises, it is logged and
        run again after a backoff (0.1 s doubling to 5 s): a database or broker outage never ends it. When it
        returns, the process fails (see the module doc)."""
        if not self.started:
            self._deferred.append((name, loop))
            return
        task = asyncio.create_task(self._keep_running(name, loop), name=name)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _keep_running(self, name: str, loop: Callable[[], Awaitable[Any]]) -> None:
        delay = 0.1
        while True:
            started = time.monotonic()
            try:
                await loop()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if time.monotonic() - started > 60:
                    delay = 0.1  # it ran fine for a while: this is a new outage
                log.warning("background_task_failed", task=name, error=repr(exc)[:300], retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            self.fail(f"background task {name} ended")
            return

    def fail(self, reason: str) -> None:
        """The process can no longer do its work: unready from now on, and stopped as if by SIGTERM (exit code 1)."""
        if self.failure is not None:
            return
        self.failure = reason
        log.error("process_failed", reason=reason)
        self.stop_process()

    def consumers_assigned(self) -> bool:
        """True once every subscriber of the broker has partitions assigned (it will see new events); of a
        subscriber with several workers, one with partitions is enough (the others may have none to get)."""
        return all(
            any(consumer.assignment() for consumer in subscriber_consumers(sub)) for sub in self.broker.subscribers
        )

    async def beat_forever(self) -> None:
        """Record this instance as alive (and ready once its consumers are assigned) every few seconds."""
        while True:
            ready = self.failure is None and self.consumers_assigned()
            await heartbeats.beat(self.pool, self.service, self.instance, ready)
            await asyncio.sleep(heartbeats.HEARTBEAT_SECONDS)

    async def watch_broker(self) -> None:
        """Ensure the topics again whenever the broker lost some (it restarted empty, an operator deleted one); the
        consumers then have `broker_recovery_seconds` to be assigned partitions again, else the process fails."""
        settings = self.settings
        lost_at: float | None = None
        while True:
            await asyncio.sleep(settings.broker_check_seconds)
            try:
                missing = await asyncio.wait_for(
                    missing_topics(settings.kafka_bootstrap_servers), BROKER_CHECK_TIMEOUT_SECONDS
                )
                if missing:
                    log.warning("broker_topics_missing", topics=sorted(missing))
                    await ensure_topics(
                        settings.kafka_bootstrap_servers, settings.topic_partitions, settings.topic_replication_factor
                    )
                    lost_at = time.monotonic()
            except Exception as exc:  # the broker is away: nothing to decide until it answers again
                log.warning("broker_check_failed", error=repr(exc)[:300])
                continue
            if lost_at is None:
                continue
            if self.consumers_assigned():
                log.info("broker_recovered", seconds=round(time.monotonic() - lost_at, 1))
                lost_at = None
            elif time.monotonic() - lost_at > settings.broker_recovery_seconds:
                self.fail("consumers were not assigned partitions again after the broker lost its topics")


@contextlib.asynccontextmanager
async def open_runtime(
    service: str,
    settings: ServiceSettings,
    register: Callable[[Runtime], None],
    stop_process: Callable[[], None] = terminate_self,
) -> AsyncIterator[Runtime]:
    """Open pool and broker (waiting for them), let `register` add subscribers and tasks, start, then close."""
    await retry_until_ready(
        f"Kafka at {settings.kafka_bootstrap_servers}",
        lambda: ensure_topics(
            settings.kafka_bootstrap_servers, settings.topic_partitions, settings.topic_replication_factor
        ),
    )
    pool = await retry_until_ready(
        f"PostgreSQL at {_host_port(settings.database_url)}",
        lambda: create_pool(settings.database_url, settings.db_pool_min_size, settings.db_pool_max_size),
    )
    broker = make_broker(settings, client_id=service)
    runtime = Runtime(service=service, settings=settings, pool=pool, broker=broker, stop_process=stop_process)
    try:
        register(runtime)
        await retry_until_ready(f"Kafka at {settings.kafka_bootstrap_servers}", broker.start)
        runtime.started = True
        own: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
            ("heartbeat", runtime.beat_forever),
            ("broker-watch", runtime.watch_broker),
        ]
        for name, loop in [*own, *runtime._deferred]:
            runtime.spawn(name, loop)
        log.info("service_started", instance=runtime.instance)
        yield runtime
    finally:
        # Stop taking messages first; the handlers give back what they have not started (`on_stop`), and finish
        # the messages in hand while their consumers still hold the partitions; then the broker stops.
        for callback in runtime._on_stop:
            callback()
        if runtime.started:
            await finish_messages_in_hand(broker)
        await broker.stop()
        for task in list(runtime.tasks):
            task.cancel()
        await asyncio.gather(*runtime.tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await heartbeats.forget(pool, service, runtime.instance)
        await pool.close()
        log.info("service_stopped", failure=runtime.failure)
