"""Settings every service shares, read from the environment by pydantic-settings."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Base of each service's settings class; built once, in the service's `main.py`."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", frozen=True)

    database_url: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    log_level: str = "INFO"
    log_json: bool | None = Field(default=None, description="JSON logs; default: JSON unless stderr is a TTY")
    db_pool_min_size: int = 1
    db_pool_max_size: int = 10
    topic_partitions: int = Field(default=6, ge=1, description="partitions of each topic created at start-up")
    topic_replication_factor: int = Field(default=1, ge=1)
    consumer_max_attempts: int = Field(default=5, ge=1, description="tries before a message goes to <topic>.dlq")
    consumer_retry_backoff_seconds: float = Field(default=0.2, gt=0)
