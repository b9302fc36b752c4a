"""Liveness, readiness and metrics over HTTP for the worker services (the api and delivery-receipts serve the
same `readiness` on their own port).

`/healthz`: the process is alive and has not failed. `/readyz`: the database answers and every consumer of the
process has partitions assigned, so it takes work. Off unless `HEALTH_PORT` is set (Kubernetes sets it).
"""

import asyncio

from aiohttp import web

from shared.db import ping
from shared.metrics import exposition, update_consumer_lag
from shared.runtime import Runtime

READY_TIMEOUT_SECONDS = 2.0


def liveness(runtime: Runtime) -> tuple[int, dict[str, str]]:
    """(status, body) of `/healthz`: 503 once the process failed (`Runtime.fail`), so it is restarted."""
    if runtime.failure is not None:
        return 503, {"error": f"failed: {runtime.failure}"}
    return 200, {"status": "ok"}


async def readiness(runtime: Runtime) -> tuple[int, dict[str, str]]:
    """(status, body) of `/readyz` for any service: the database answers and every consumer of the process has
    partitions. Other services are not asked: one absent worker must not take the api out of its Service."""
    if runtime.failure is not None:
        return 503, {"error": f"failed: {runtime.failure}"}
    try:
        await asyncio.wait_for(ping(runtime.pool), READY_TIMEOUT_SECONDS)
    except Exception as exc:  # any failure to answer is "not ready", never a crash of the probe
        return 503, {"error": f"database unavailable: {type(exc).__name__}"}
    if not runtime.consumers_assigned():
        return 503, {"error": "broker: consumers have no partitions yet"}
    return 200, {"status": "ready"}


async def serve_health(runtime: Runtime, host: str, port: int) -> web.AppRunner:
    """Start the probe endpoints; the caller cleans the returned runner up."""

    async def healthz(_: web.Request) -> web.Response:
        status, body = liveness(runtime)
        return web.json_response(body, status=status)

    async def readyz(_: web.Request) -> web.Response:
        status, body = await readiness(runtime)
        return web.json_response(body, status=status)

    async def metrics(_: web.Request) -> web.Response:
        await update_consumer_lag(runtime.broker)
        body, content_type = exposition()
        return web.Response(body=body, headers={"Content-Type": content_type})

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
