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
    broker_check_seconds: float = Field(default=5.0, gt=0, description="how often the topics are checked for")
    broker_recovery_seconds: float = Field(
        default=30.0, gt=0, description="after the broker lost topics, how long consumers may take to be assigned"
    )
    health_host: str = Field(default="127.0.0.1", description="where a worker's /healthz and /readyz listen")
    health_port: int = Field(default=0, ge=0, description="port of a worker's probes; 0: none (set in Kubernetes)")
    short_link_base_url: str = Field(
        default="http://127.0.0.1:8000", description="public address of the api, where short links /s/{code} point"
    )
    sms_rate_limit: float = Field(default=100, gt=0, description="sms per second the provider accepts")
    email_rate_limit: float = Field(default=200, gt=0, description="emails per second the provider accepts")
    push_rate_limit: float = Field(default=500, gt=0, description="pushes per second the provider accepts")

    def rate_limit(self, channel: str) -> float:
        """Messages per second of the channel's provider (the preview's estimate uses them)."""
        return float(getattr(self, f"{channel}_rate_limit"))
