"""`service_heartbeats`: each process records itself alive (and ready) every few seconds; the api's
`/readyz/pipeline` reads which services have a live, ready instance."""

import asyncpg

from shared.db import Conn

Executor = Conn | asyncpg.Pool  # one statement each: a pool does as well as a connection

HEARTBEAT_SECONDS = 2.0
# A service whose last beat is older than this is taken for gone.
HEARTBEAT_STALE_SECONDS = 10.0


async def beat(conn: Executor, service: str, instance: str, ready: bool) -> None:
    await conn.execute(
        "INSERT INTO service_heartbeats (service, instance, ready, beat_at) VALUES ($1, $2, $3, now()) "
        "ON CONFLICT (service, instance) DO UPDATE SET ready = excluded.ready, beat_at = now()",
        service,
        instance,
        ready,
    )


async def forget(conn: Executor, service: str, instance: str) -> None:
    """The instance stopped: it no longer counts, without waiting for its beat to go stale."""
    await conn.execute("DELETE FROM service_heartbeats WHERE service = $1 AND instance = $2", service, instance)


async def ready_services(conn: Executor) -> list[str]:
    """The services with at least one instance that beat lately and said it was ready."""
    services: list[str] = await conn.fetchval(
        "SELECT coalesce(array_agg(DISTINCT service), '{}') FROM service_heartbeats "
        "WHERE ready AND beat_at > now() - make_interval(secs => $1)",
        HEARTBEAT_STALE_SECONDS,
    )
    return services
