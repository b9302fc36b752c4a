"""Settings of the scheduler service."""

from pydantic import Field

from shared.config import ServiceSettings


class SchedulerSettings(ServiceSettings):
    """Environment of the scheduler (see the README's table)."""

    scheduler_poll_seconds: float = Field(default=1.0, gt=0, description="longest sleep between two looks")
    scheduler_batch_size: int = Field(default=100, ge=1)
    prescheduled_lead_seconds: float = Field(
        default=300, ge=0, description="how early a prescheduled sending is prepared"
    )
    sending_deadline_seconds: float = Field(default=1200, gt=0, description="after scheduled_at, unfinished ⇒ failed")
    redrive_interval_seconds: float = Field(default=5.0, gt=0)
    stage_lease_seconds: float = Field(default=30.0, gt=0, description="no progress this long ⇒ re-drive")
    retention_interval_seconds: float = Field(default=3600, gt=0, description="how often old dispatches are wiped")
    retention_default_days: int = Field(default=90, ge=1, description="retention of an LC without its own setting")
    retention_batch_size: int = Field(default=10_000, ge=1, description="dispatches wiped per transaction")
    status_relay_batch_size: int = Field(default=500, ge=1, description="sending.status events published at once")
    status_relay_poll_seconds: float = Field(
        default=1.0, gt=0, description="longest wait between two looks at the sending.status outbox"
    )
