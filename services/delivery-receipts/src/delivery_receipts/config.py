"""Settings of the delivery-receipts service."""

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
