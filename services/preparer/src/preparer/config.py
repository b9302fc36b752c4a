"""Settings of the preparer service."""

from pydantic import Field

from shared.config import ServiceSettings


class PreparerSettings(ServiceSettings):
    """Environment of the preparer (see the README's table)."""

    preparer_chunk_size: int = Field(default=20_000, ge=1, le=100_000, description="recipients per chunk")
    preparer_range_size: int = Field(
        default=100_000, ge=1, description="members per range of a sending; ranges are prepared in parallel"
    )
