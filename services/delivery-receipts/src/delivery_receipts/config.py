"""Settings of the delivery-receipts service."""

from shared.config import ServiceSettings


class ReceiptsSettings(ServiceSettings):
    """Environment of delivery-receipts (see the README's table)."""

    receipts_host: str = "127.0.0.1"
    receipts_port: int = 8001
    sandbox_webhook_secret: str = "sandbox-secret"  # noqa: S105 - local default; set a real one in production
