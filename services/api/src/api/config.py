"""Settings of the api service."""

from pydantic import Field

from shared.config import ServiceSettings


class ApiSettings(ServiceSettings):
    """Environment of the api service (see the README's table)."""

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    max_body_bytes: int = Field(default=5 * 1024 * 1024, ge=1024, description="larger request bodies get 413")
    rate_limit_per_second: float = Field(default=50.0, gt=0, description="requests per second per LC and process")
    rate_limit_burst: int = Field(default=100, ge=1, description="requests an LC may send at once")
    consume_member_events: bool = Field(
        default=True, description="keep the members read model from member.upserted / member.deleted"
    )
    consume_sending_requests: bool = Field(
        default=True, description="create the sendings asked for by sending.requested"
    )
    sending_request_concurrency: int = Field(
        default=4, ge=1, description="requests of a sending.requested batch handled at once (each a connection)"
    )
    sending_request_services: dict[str, list[str]] = Field(
        default_factory=dict,
        description="producing service → the services it may request sendings in (JSON); one not listed: every one",
    )
