from pathlib import Path

from tracker_contracts import EventType
from tracker_runtime.asyncapi import event_catalogue, render

DOCS = Path(__file__).resolve().parents[3] / "docs" / "events" / "asyncapi.json"


def test_every_event_type_is_described_on_the_events_exchange() -> None:
    catalogue = event_catalogue()

    assert set(catalogue["channels"]) == {event_type.value for event_type in EventType}
    for channel in catalogue["channels"].values():
        assert channel["bindings"]["amqp"]["exchange"]["name"] == "tracker.events"
        assert channel["bindings"]["amqp"]["exchange"]["type"] == "topic"
    for operation in catalogue["operations"].values():
        assert operation["bindings"]["amqp"]["deliveryMode"] == 2  # persistent


def test_the_published_description_matches_the_code() -> None:
    assert DOCS.read_text() == render(), "run `make schemas`"
