"""Settings of the transmitter service."""

from pydantic import Field

from shared.config import ServiceSettings


class TransmitterSettings(ServiceSettings):
    """Environment of the transmitter (see the README's table)."""

    sms_provider: str = Field(default="sandbox", description="sms provider adapter")
    transmit_concurrency: int = Field(default=50, ge=1, description="provider calls in flight per process")
    claim_lease_seconds: float = Field(default=120, gt=0, description="a claim unmarked this long ⇒ ambiguous")
    sandbox_receipts_url: str = "http://127.0.0.1:8001/webhooks/sandbox"
    sandbox_webhook_secret: str = "sandbox-secret"  # noqa: S105 - local default; set a real one in production
    sandbox_receipt_delay_seconds: float = Field(default=0.05, ge=0)
