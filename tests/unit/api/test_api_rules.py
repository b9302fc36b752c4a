"""The api's pure rules: schedules, the 422 tree, aggregated status, pagination, numbers, signatures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from api.checks import add_months, check_schedule, schedule_time
from api.errors import ErrorTree, tree_from_pydantic
from api.schemas import CreateMessageRequest, Schedule, normalize_msisdn
from api.views import aggregated_sendings_status, pagination_info
from delivery_receipts.receipts import normalize_sendgrid_events
from shared.formats import iso_ms
from shared.sandbox import sandbox_signature as sign
from shared.sandbox import sandbox_signature_valid

NOW = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("given", "expected"),
    [("1 second", NOW + timedelta(seconds=1)), ("15 minutes", NOW + timedelta(minutes=15)),
     ("2 hours", NOW + timedelta(hours=2)), ("1 day", NOW + timedelta(days=1)), ("2 weeks", NOW + timedelta(days=14)),
     ("1 month", datetime(2026, 2, 28, 12, 0, tzinfo=UTC)), ("1 year", datetime(2027, 1, 31, 12, 0, tzinfo=UTC))],
)  # fmt: skip
def test_a_relative_schedule_counts_from_now_in_calendar_units(given: str, expected: datetime) -> None:
    assert schedule_time(Schedule(type="relative", **{"in": given}), NOW) == expected


def test_months_clamp_to_the_end_of_shorter_months_and_leap_years() -> None:
    assert add_months(datetime(2028, 1, 31, tzinfo=UTC), 1) == datetime(2028, 2, 29, tzinfo=UTC)
    assert add_months(datetime(2026, 11, 30, tzinfo=UTC), 3) == datetime(2027, 2, 28, tzinfo=UTC)


def test_an_absolute_schedule_must_be_in_the_future() -> None:
    tree = ErrorTree()
    check_schedule(tree, ["schedule"], Schedule(type="absolute", at="2020-10-18T10:59:32.340Z"), NOW)
    assert tree.root["schedule"]["at"][0]["error"] == "must_be_in_the_future"


def test_pydantic_errors_become_the_spec_tree_with_string_indexes() -> None:
    with pytest.raises(ValidationError) as caught:
        CreateMessageRequest.model_validate({"message": {"channels": [{"type": "fax"}], "id": 3}})
    tree = tree_from_pydantic(caught.value.errors()).root
    assert tree["message"]["name"] == [
        {"value": None, "error": "presence", "options": {}, "message": "must be present"}
    ]
    assert tree["message"]["channels"]["0"]["type"][0]["error"] == "inclusion"
    assert tree["message"]["channels"]["0"]["type"][0]["options"] == {"in": ["sms", "email", "push"]}
    assert tree["message"]["id"][0]["error"] == "unknown_attribute"


def test_errors_without_a_field_go_under_base() -> None:
    tree = ErrorTree()
    tree.add([], None, "sending_must_have_audience_or_recipients")
    assert list(tree.root) == ["base"]


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [([], "draft"), (["draft", "draft"], "draft"), (["transmitted", "cancelled", "skipped", "failed"], "finished"),
     (["draft", "transmitted"], "scheduled"), (["preparing"], "scheduled")],
)  # fmt: skip
def test_the_aggregated_sendings_status(statuses: list[str], expected: str) -> None:
    assert aggregated_sendings_status(statuses) == expected


def test_pagination_marks_first_last_and_out_of_range_pages() -> None:
    assert pagination_info(250, 100, 3).model_dump() == {
        "total_count": 250, "per_page": 100, "total_pages": 3, "current_page": 3, "next_page": None, "prev_page": 2,
        "is_first_page": False, "is_last_page": True, "is_out_of_range": False,
    }  # fmt: skip
    beyond = pagination_info(0, 100, 2)
    assert (beyond.is_out_of_range, beyond.next_page, beyond.prev_page) == (True, None, None)


@pytest.mark.parametrize("given", ["+4740769126", "004740769126", "4740769126", "+47 407 69 126"])
def test_msisdns_are_stored_as_e164_digits_without_plus(given: str) -> None:
    assert normalize_msisdn(given) == "4740769126"


@pytest.mark.parametrize("given", ["12345", "+4712345678", "47abc", ""])
def test_numbers_outside_the_numbering_plan_are_refused(given: str) -> None:
    with pytest.raises(ValueError, match="valid phone number"):
        normalize_msisdn(given)


def test_timestamps_are_utc_with_milliseconds_and_z() -> None:
    oslo_summer = timezone(timedelta(hours=2))
    assert iso_ms(datetime(2020, 9, 15, 14, 45, 8, 618_999, tzinfo=oslo_summer)) == "2020-09-15T12:45:08.618Z"
    assert iso_ms(None) is None


def test_a_sandbox_receipt_verifies_only_with_its_own_body_and_secret() -> None:
    body = b'{"message_id": "sbx-1", "status": "delivered"}'
    assert sandbox_signature_valid("secret", body, sign("secret", body))
    assert not sandbox_signature_valid("secret", body + b" ", sign("secret", body))
    assert not sandbox_signature_valid("other", body, sign("secret", body))
    assert not sandbox_signature_valid("secret", body, None)


def test_unreadable_sendgrid_events_are_set_aside_and_the_rest_of_the_batch_kept() -> None:
    good = {"event": "delivered", "sg_message_id": "abc.filter", "timestamp": 1_700_000_000, "dispatch_id": "7"}
    batch = [
        good,
        {"event": "open", "sg_message_id": "abc.filter"},  # engagement: left out, not malformed
        "not an object",
        {**good, "timestamp": "soon"},
        {**good, "timestamp": float("nan")},
        {**good, "timestamp": 1e300},
        {**good, "dispatch_id": str(2**63)},
        {**good, "sg_event_id": "nul\x00"},
        {"event": "bounce", "timestamp": 1_700_000_000},  # no sg_message_id
    ]
    receipts, malformed = normalize_sendgrid_events(batch)
    assert [(r.provider_message_id, r.dispatch_id, r.status) for r in receipts] == [("abc", 7, "delivered")]
    assert [m.index for m in malformed] == [2, 3, 4, 5, 6, 7, 8]
    with pytest.raises(TypeError):
        normalize_sendgrid_events({"event": "delivered"})
