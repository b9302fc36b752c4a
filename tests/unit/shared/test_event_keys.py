"""Each event names its own Kafka key, the one the catalogue documents, so no publisher passes a key by hand."""

from datetime import UTC, datetime

import pytest

from shared.events import (
    DeliveryStatusReceived,
    DispatchesPrepared,
    DispatchTransmitted,
    Event,
    MemberDeleted,
    MemberUpserted,
    PreparationRangeDue,
    SendingRejected,
    SendingRequested,
    SendingScheduled,
    SendingStatusChanged,
)
from shared.events.catalog import FLOWS
from shared.ledger import DispatchCounts, Stats

NOW = datetime(2026, 12, 4, tzinfo=UTC)
SAMPLES: dict[type[Event], tuple[Event, str]] = {
    SendingScheduled: (SendingScheduled(sending_id=7), "7"),
    PreparationRangeDue: (PreparationRangeDue(sending_id=7, range_no=3), "7:3"),
    DispatchesPrepared: (DispatchesPrepared(sending_id=7, dispatch_ids=[1, 2]), "7"),
    DispatchTransmitted: (DispatchTransmitted(sending_id=7, outcomes=[]), "7"),
    DeliveryStatusReceived: (
        DeliveryStatusReceived(
            provider="twilio",
            provider_message_id="SM1",
            status="delivered",
            external_status="delivered",
            reported_at=NOW,
        ),
        "SM1",
    ),
    MemberUpserted: (MemberUpserted(loyalty_club="acme", member_id=42, updated_at=NOW), "42"),
    MemberDeleted: (MemberDeleted(loyalty_club="acme", member_id=42, deleted_at=NOW), "42"),
    SendingRequested: (
        SendingRequested(request_id="r-9", requested_by="loyalty-engine", lc="acme", service="generic", message_id=1),
        "r-9",
    ),
    SendingRejected: (SendingRejected(request_id="r-9", lc="acme", service="generic", error="Not found"), "r-9"),
    SendingStatusChanged: (
        SendingStatusChanged(
            sequence=2,
            lc="acme",
            service="campaigns",
            message_id=12,
            sending_id=7,
            status="preparing",
            previous_status="scheduled",
            stats=Stats.of(None, None, DispatchCounts()),
        ),
        "7",
    ),
}


@pytest.mark.parametrize("flow", FLOWS, ids=lambda f: f.event.__name__)
def test_every_event_of_the_catalogue_has_the_key_it_documents(flow: object) -> None:
    event, key = SAMPLES[flow.event]  # type: ignore[attr-defined]
    assert event.key() == key


def test_an_event_without_a_key_is_refused_rather_than_published_under_none() -> None:
    class Keyless(Event):
        type: str = "keyless"

    with pytest.raises(NotImplementedError, match="Keyless names no Kafka key"):
        Keyless().key()
