"""The entry point of an HTTP service (the api, delivery-receipts): serve the app with uvicorn until SIGTERM, the
requests in flight drained, then exit 1 if its runtime failed, so that its supervisor starts it again."""

from typing import Any

import uvicorn

GRACEFUL_SECONDS = 20
# Longer than the idle timeout of the gateways in front (60 s is common), so they never reuse a connection the
# server is closing.
KEEP_ALIVE_SECONDS = 75


def serve_http(app: Any, host: str, port: int) -> None:
    """Serve `app` (whose lifespan puts its runtime on `app.state.runtime`) on host:port."""
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=GRACEFUL_SECONDS,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )
    runtime = getattr(app.state, "runtime", None)
    if runtime is not None and runtime.failure is not None:
        raise SystemExit(1)  # its supervisor starts it again
