import json
import uuid
from pathlib import Path

import pytest
from pydantic import ValidationError

from tracker_contracts import (
    EVENT_MODELS,
    EVENTS_EXCHANGE,
    Envelope,
    EventType,
    UserRegistered,
    parse_envelope,
)
from tracker_contracts.export import event_schemas, render

DOCS = Path(__file__).resolve().parents[3] / "docs" / "events"


def registered() -> UserRegistered:
    return UserRegistered(user_id=uuid.uuid4(), email="ada@example.com", timezone="Europe/Berlin")


def test_the_envelope_has_the_pinned_shape() -> None:
    envelope = Envelope.wrap(registered())

    wire = json.loads(envelope.model_dump_json())

    assert set(wire) == {"event_id", "event_type", "occurred_at", "data"}
    assert wire["event_type"] == "user.registered"
    assert wire["occurred_at"].endswith("Z")
    assert {"user_id", "email", "timezone"} <= set(wire["data"])
    assert EVENTS_EXCHANGE == "tracker.events"


def test_a_welcome_link_comes_whole() -> None:
    with pytest.raises(ValidationError, match="token and expires_at come together"):
        UserRegistered(
            user_id=uuid.uuid4(), email="ada@example.com", timezone="UTC", token="t" * 32
        )


def test_an_event_survives_the_wire() -> None:
    envelope = Envelope.wrap(registered())

    parsed = parse_envelope(envelope.model_dump_json())

    assert parsed == envelope


@pytest.mark.parametrize(
    "wire",
    [
        b"not json",
        b"{}",
        json.dumps(
            {
                "event_id": "x",
                "event_type": "user.registered",
                "occurred_at": "2026-01-01T00:00:00Z",
                "data": {},
            }
        ).encode(),
        json.dumps(
            {
                "event_id": str(uuid.uuid4()),
                "event_type": "user.exploded",
                "occurred_at": "2026-01-01T00:00:00Z",
                "data": {},
            }
        ).encode(),
        json.dumps(
            {
                "event_id": str(uuid.uuid4()),
                "event_type": "session.revoked",
                "occurred_at": "2026-01-01T00:00:00",  # no offset
                "data": {
                    "session_id": str(uuid.uuid4()),
                    "user_id": str(uuid.uuid4()),
                    "expires_at": "2026-01-01T00:15:00Z",
                },
            }
        ).encode(),
        json.dumps(
            {
                "event_id": str(uuid.uuid4()),
                "event_type": "user.registered",
                "occurred_at": "2026-01-01T00:00:00Z",
                "data": {"user_id": str(uuid.uuid4()), "email": "nope", "timezone": "UTC"},
            }
        ).encode(),
    ],
)
def test_malformed_events_are_refused(wire: bytes) -> None:
    with pytest.raises((ValidationError, ValueError)):
        parse_envelope(wire)


def test_every_event_type_has_a_model_with_a_version() -> None:
    assert set(EVENT_MODELS) == set(EventType)
    assert all(model.EVENT_TYPE is event_type for event_type, model in EVENT_MODELS.items())
    assert all(model.VERSION >= 1 for model in EVENT_MODELS.values())


def test_the_published_schemas_match_the_code() -> None:
    """docs/events is generated (`make schemas`); it must not drift from the models."""
    schemas = event_schemas()

    assert sorted(path.name for path in DOCS.glob("*.v*.json")) == sorted(schemas)
    for name, schema in schemas.items():
        assert (DOCS / name).read_text() == render(schema), f"run `make schemas` ({name})"
