"""Every log line of a Kafka handler carries the ids of the event it handles."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import structlog

from shared.events import MemberDeleted, PreparationRangeDue, SendingScheduled
from shared.kafka import event_context, log_context


def test_handlers_log_with_the_events_ids_bound() -> None:
    assert event_context(SendingScheduled(sending_id=5)) == {"sending_id": 5}
    assert event_context(PreparationRangeDue(sending_id=5, range_no=2)) == {"sending_id": 5, "range_no": 2}
    deleted = MemberDeleted(loyalty_club="acme", member_id=9, deleted_at=datetime(2026, 11, 24, tzinfo=UTC))
    assert event_context(deleted) == {"loyalty_club": "acme", "member_id": 9}
    with structlog.contextvars.bound_contextvars(**event_context(SendingScheduled(sending_id=5))):
        merged = structlog.contextvars.merge_contextvars(None, "info", {"event": "x"})
    assert merged["sending_id"] == 5


def test_what_a_handler_binds_stays_with_that_handler_call() -> None:
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(service="preparer")
    with log_context(sending_id=5):
        structlog.contextvars.bind_contextvars(lc_id=3)  # the handler learnt the LC from the sending
        assert structlog.contextvars.get_contextvars() == {"service": "preparer", "sending_id": 5, "lc_id": 3}
    assert structlog.contextvars.get_contextvars() == {"service": "preparer"}

    def failing_handler() -> None:
        with log_context(sending_id=6):
            structlog.contextvars.bind_contextvars(lc_id=4)
            raise RuntimeError("handler failed")

    with pytest.raises(RuntimeError):
        failing_handler()
    assert structlog.contextvars.get_contextvars() == {"service": "preparer"}
    structlog.contextvars.clear_contextvars()
