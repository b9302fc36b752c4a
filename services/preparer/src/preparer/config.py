"""Settings of the preparer service."""

from pydantic import Field

from shared.config import ServiceSettings
from shared.events import MAX_DISPATCHES_PER_EVENT


class PreparerSettings(ServiceSettings):
    """Environment of the preparer (see the README's table)."""

    preparer_chunk_size: int = Field(default=MAX_DISPATCHES_PER_EVENT, ge=1, le=MAX_DISPATCHES_PER_EVENT)
