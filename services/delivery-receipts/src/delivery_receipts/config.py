"""Settings of the delivery-receipts service."""

from pydantic import Field

from shared.config import ServiceSettings


class ReceiptsSettings(ServiceSettings):
    """Environment of delivery-receipts (see the README's table)."""

    receipts_host: str = "127.0.0.1"
    receipts_port: int = 8001
    sandbox_webhook_secret: str = "sandbox-secret"  # noqa: S105 - local default; set a real one in production
    twilio_account_sid: str = ""  # callbacks for another account are dropped (and counted as foreign)
    twilio_auth_token: str = ""  # the key of X-Twilio-Signature; Twilio callbacks are refused while empty
    receipts_public_url: str = "http://127.0.0.1:8001"  # how providers reach us: the URL Twilio signs
    generic_webhook_secret: str = ""  # Standard Webhooks secret (`whsec_...`) of /webhooks/generic; refused while empty
    sendgrid_webhook_public_key: str = ""  # the event webhook's verification key (base64 DER); refused while empty
    unsubscribe_secret: str = ""  # key of the transmitter's signed unsubscribe links; every link refused while empty
    receipts_retry_seconds: float = Field(default=0.5, gt=0, description="how often waiting receipts are looked at")
    receipt_retry_base_seconds: float = Field(
        default=0.5, gt=0, description="first wait of a receipt whose dispatch is not known yet (doubled each try)"
    )
    receipt_retry_max_seconds: float = Field(default=30, gt=0, description="longest wait between two tries")
    receipt_match_timeout_seconds: float = Field(
        default=86_400, gt=0, description="a receipt still unmatched this long after it came is dropped"
    )
    receipts_keep_hours: float = Field(default=72, gt=0, description="receipts done with are forgotten after this")
