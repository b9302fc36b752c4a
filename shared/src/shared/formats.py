"""Wire formats of the API: timestamps in ISO 8601 UTC with milliseconds and `Z`."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def iso_ms(value: datetime | None) -> str | None:
    """Format a timestamp as `2020-09-15T12:45:08.618Z` (None stays None)."""
    if value is None:
        return None
    value = value.astimezone(UTC)
    return f"{value:%Y-%m-%dT%H:%M:%S}.{value.microsecond // 1000:03d}Z"
