"""The AsyncAPI document is generated from the code, covers every topic and event, and is kept current."""

from __future__ import annotations

import pytest
import yaml

from shared import asyncapi
from shared.events import Event, SendingScheduled
from shared.events.catalog import FLOWS, PREPARER_GROUP, consumer_group
from shared.events.topics import ALL_TOPICS, dead_letter_topic


def all_event_types() -> set[type[Event]]:
    found: set[type[Event]] = set()
    pending = list(Event.__subclasses__())
    while pending:
        cls = pending.pop()
        found.add(cls)
        pending.extend(cls.__subclasses__())
    return found


def test_the_committed_document_is_what_the_code_generates() -> None:
    assert asyncapi.DOCUMENT.read_text() == asyncapi.document(), "run `python -m shared.asyncapi --write`"
    assert asyncapi.main(["--check"]) == 0


def test_the_catalogue_covers_every_event_and_topic() -> None:
    assert {flow.event for flow in FLOWS} == all_event_types()
    assert {flow.event.topic for flow in FLOWS} == set(ALL_TOPICS)
    assert all(flow.producers for flow in FLOWS)


def test_every_event_is_documented_with_its_fields_on_its_topic() -> None:
    doc = yaml.safe_load(asyncapi.document())
    assert doc["asyncapi"] == "3.0.0"
    addresses = {channel["address"] for channel in doc["channels"].values()}
    consumed = {flow.event.topic for flow in FLOWS if flow.consumers}
    assert addresses == set(ALL_TOPICS) | {dead_letter_topic(t) for t in consumed}
    schemas = doc["components"]["schemas"]
    for flow in FLOWS:
        schema = schemas[flow.event.__name__]
        assert set(schema["properties"]) == set(flow.event.model_fields), flow.event.__name__
        receivers = {
            name for name, op in doc["operations"].items()
            if op["action"] == "receive" and doc["channels"][name]["address"] == flow.event.topic
        }  # fmt: skip
        assert receivers == {f"consume:{c.group_id}:{flow.event.topic}" for c in flow.consumers}
        senders = {
            name for name, op in doc["operations"].items()
            if op["action"] == "send" and doc["channels"][name]["address"] == flow.event.topic
        }  # fmt: skip
        assert senders == {f"publish:{p}:{flow.event.topic}" for p in flow.producers}


def test_services_take_their_consumer_groups_from_the_catalogue() -> None:
    assert consumer_group("preparer", SendingScheduled) == PREPARER_GROUP
    with pytest.raises(LookupError, match="not in the event catalogue"):
        consumer_group("transmitter", SendingScheduled)  # the transmitter does not consume it
    with pytest.raises(LookupError, match="not in the event catalogue"):
        consumer_group("preparer", SendingScheduled, batch=True)
