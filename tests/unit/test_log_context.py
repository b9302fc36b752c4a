"""Every log line of a Kafka handler carries the ids of the event it handles."""

from __future__ import annotations

from datetime import UTC, datetime

import structlog

from shared.events import MemberDeleted, PreparationRangeDue, SendingScheduled
from shared.kafka import event_context


def test_handlers_log_with_the_events_ids_bound() -> None:
    assert event_context(SendingScheduled(sending_id=5)) == {"sending_id": 5}
    assert event_context(PreparationRangeDue(sending_id=5, range_no=2)) == {"sending_id": 5, "range_no": 2}
    deleted = MemberDeleted(loyalty_club="acme", member_id=9, deleted_at=datetime(2026, 11, 24, tzinfo=UTC))
    assert event_context(deleted) == {"loyalty_club": "acme", "member_id": 9}
    with structlog.contextvars.bound_contextvars(**event_context(SendingScheduled(sending_id=5))):
        merged = structlog.contextvars.merge_contextvars(None, "info", {"event": "x"})
    assert merged["sending_id"] == 5
