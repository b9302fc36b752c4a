"""What the webhook app's requests reach through `app.state`, typed: the runtime its lifespan opened and the
settings it was made with."""

from starlette.requests import Request

from delivery_receipts.config import ReceiptsSettings
from shared.runtime import Runtime


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def settings_of(request: Request) -> ReceiptsSettings:
    settings: ReceiptsSettings = request.app.state.settings
    return settings
