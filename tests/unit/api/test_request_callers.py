"""Who a sending.requested acts as: its producer, in the services the configuration lets it use."""

from __future__ import annotations

import pytest

from api.errors import Forbidden
from api.service.requests import caller_of, rejection
from api.tokens import service_of
from shared.domain import LoyaltyClubId
from shared.events import SendingRequested

REQUEST = SendingRequested(request_id="r-1", requested_by="loyalty-engine", lc="acme", service="generic", message_id=1)


def test_a_producer_not_configured_may_request_in_every_service() -> None:
    caller = caller_of(REQUEST, LoyaltyClubId(3), {})
    assert (caller.lc_id, caller.lc_slug) == (3, "acme")
    assert service_of(caller, "generic").name == "generic"
    assert service_of(caller, "campaigns").name == "campaigns"


def test_a_producer_limited_to_some_services_is_refused_the_others_as_http_refuses_them() -> None:
    caller = caller_of(REQUEST, LoyaltyClubId(3), {"loyalty-engine": ["campaigns"], "other": ["generic"]})
    assert service_of(caller, "campaigns").name == "campaigns"
    with pytest.raises(Forbidden) as refused:
        service_of(caller, "generic")
    rejected = rejection(REQUEST, refused.value)
    assert (rejected.error, rejected.details, rejected.request_id) == (
        "Unauthorized to set specific Service",
        None,
        "r-1",
    )


def test_a_request_refused_twice_is_refused_under_the_same_event_id() -> None:
    first, again = (rejection(REQUEST, Forbidden("Unauthorized to set specific Service")) for _ in range(2))
    assert first.event_id == again.event_id
    other = rejection(REQUEST.model_copy(update={"request_id": "r-2"}), Forbidden("no"))
    assert other.event_id != first.event_id
