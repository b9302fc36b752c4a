"""Settings of the api service."""

from pydantic import Field

from shared.config import ServiceSettings


class ApiSettings(ServiceSettings):
    """Environment of the api service (see the README's table)."""

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    relative_schedule_now_skew_seconds: float = Field(default=0.0, ge=0)
