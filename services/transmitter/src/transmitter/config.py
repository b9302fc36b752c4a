"""Settings of the transmitter service."""

from typing import Literal

from pydantic import Field

from shared.config import ServiceSettings


class TransmitterSettings(ServiceSettings):
    """Environment of the transmitter (see the README's table)."""

    sms_provider: Literal["sandbox", "twilio"] = Field(default="sandbox", description="sms provider adapter")
    email_provider: Literal["sandbox", "sendgrid", "smtp"] = Field(default="sandbox", description="email adapter")
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    smtp_connections: int = Field(default=4, ge=1, description="pooled SMTP connections per process")
    message_id_domain: str = Field(default="messaging.local", description="domain of our email Message-IDs")
    unsubscribe_url: str | None = Field(
        default=None, description="where unsubscribe links point; default: RECEIPTS_PUBLIC_URL/unsubscribe"
    )
    unsubscribe_secret: str = Field(default="", description="key of the signed unsubscribe links; none: no links")
    sendgrid_base_url: str = "https://api.sendgrid.com"
    sendgrid_api_key: str = ""
    push_provider: Literal["sandbox", "fcm"] = Field(default="sandbox", description="push provider adapter")
    fcm_base_url: str = "https://fcm.googleapis.com"
    fcm_project_id: str = ""
    fcm_credentials_file: str = ""
    twilio_base_url: str = "https://api.twilio.com"
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_messaging_service_sid: str | None = None
    receipts_public_url: str = Field(
        default="http://127.0.0.1:8001", description="delivery-receipts as providers reach it (status callbacks)"
    )
    provider_connections: int = Field(default=100, ge=1, description="pooled connections per HTTP provider")
    retry_deadline_seconds: float = Field(
        default=60, gt=0, description="a dispatch the provider keeps refusing transiently fails after this"
    )
    retry_base_seconds: float = Field(default=0.2, gt=0, description="first retry delay, doubled each try, jittered")
    retry_max_seconds: float = Field(default=10, gt=0, description="longest delay between two tries")
    transmit_concurrency: int = Field(default=50, ge=1, description="calls in flight per provider and process")
    transmitter_workers: int = Field(
        default=4, ge=1, le=64, description="batches handled at once (one consumer each), so priority can choose"
    )
    claim_lease_seconds: float = Field(
        default=60, gt=0, description="a dispatch attempted this long ago without a recorded outcome ⇒ ambiguous"
    )
    outcomes_flush_seconds: float = Field(
        default=0.1, gt=0, description="longest wait before a provider's answer is written to the database"
    )
    provider_timeout_seconds: float = Field(
        default=10, gt=0, description="a provider call not answered within this ⇒ ambiguous_outcome"
    )
    sandbox_receipts_url: str = "http://127.0.0.1:8001/webhooks/sandbox"
    sandbox_webhook_secret: str = "sandbox-secret"  # noqa: S105 - local default; set a real one in production
    sandbox_receipt_delay_seconds: float = Field(default=0.5, ge=0, description="how long after a send it is delivered")

    @property
    def unsubscribe_target(self) -> str:
        """Where unsubscribe links point: `UNSUBSCRIBE_URL`, or delivery-receipts' own endpoint."""
        return self.unsubscribe_url or f"{self.receipts_public_url.rstrip('/')}/unsubscribe"
