"""Queues bind the event types of the models they list, subscriptions must pair exactly
those models with handlers, and every consumer validates events the same way."""

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from tracker_contracts import (
    Envelope,
    EventData,
    InvalidEvent,
    SessionRevoked,
    UserRegistered,
    UserUpdated,
    validate_event,
)
from tracker_contracts.messaging import CONSUMER_QUEUES, QUEUES, ConsumerQueue
from tracker_contracts.subscriptions import Subscriptions, subscribe

QUEUE = ConsumerQueue("example.events", events=(UserRegistered, UserUpdated))


def handled(context: list[str], envelope: Envelope[UserRegistered]) -> str:
    context.append(envelope.data.email)
    return "registered"


def updated(context: list[str], envelope: Envelope[UserUpdated]) -> str:
    return "updated"


def revoked(context: list[str], envelope: Envelope[SessionRevoked]) -> str:
    return "revoked"


def registration() -> bytes:
    data = UserRegistered(user_id=uuid.uuid4(), email="ada@example.com", timezone="UTC")
    return Envelope.wrap(data).model_dump_json().encode()


def test_a_queue_binds_the_event_types_of_its_models() -> None:
    assert QUEUE.routing_keys == ("user.registered", "user.updated")
    for queue in CONSUMER_QUEUES:
        [declared] = [q for q in QUEUES if q.name == queue.name]
        assert [key for _, key in declared.bindings] == list(queue.routing_keys)


@pytest.mark.parametrize(
    "entries",
    [
        pytest.param((subscribe(UserRegistered, handled),), id="bound-without-a-handler"),
        pytest.param(
            (
                subscribe(UserRegistered, handled),
                subscribe(UserUpdated, updated),
                subscribe(SessionRevoked, revoked),
            ),
            id="handled-without-a-binding",
        ),
        pytest.param(
            (
                subscribe(UserRegistered, handled),
                subscribe(UserRegistered, handled),
                subscribe(UserUpdated, updated),
            ),
            id="subscribed-twice",
        ),
    ],
)
def test_subscriptions_must_pair_every_bound_model_with_one_handler(entries: Any) -> None:
    with pytest.raises(ValueError, match=r"example\.events"):
        Subscriptions[list[str], str](QUEUE, entries)


def test_an_event_goes_to_the_handler_of_its_model() -> None:
    subscriptions = Subscriptions[list[str], str](
        QUEUE, (subscribe(UserRegistered, handled), subscribe(UserUpdated, updated))
    )
    seen: list[str] = []

    envelope = subscriptions.validate(registration(), {"event_version": 1})

    assert subscriptions.dispatch(seen, envelope) == "registered"
    assert seen == ["ada@example.com"]


def test_an_event_of_a_type_not_subscribed_is_invalid_here() -> None:
    subscriptions = Subscriptions[list[str], str](
        ConsumerQueue("example.sessions", events=(SessionRevoked,)),
        (subscribe(SessionRevoked, revoked),),
    )

    with pytest.raises(InvalidEvent, match=r"user\.registered is not consumed"):
        subscriptions.validate(registration(), {})


@pytest.mark.parametrize(
    ("body", "headers", "reason"),
    [
        pytest.param(b"{not json", {}, "Invalid JSON", id="bad-json"),
        pytest.param(b"\xff\xfe\x00", {}, "Invalid JSON", id="not-text"),
        pytest.param(
            b'{"event_id": "x", "event_type": "user.exploded", "data": {}}',
            {},
            "event_type",
            id="unknown-type",
        ),
        pytest.param(registration(), {"event_version": 2}, "event_version 2", id="other-version"),
    ],
)
def test_anything_but_a_valid_event_of_its_version_is_invalid(
    body: bytes, headers: dict[str, object], reason: str
) -> None:
    with pytest.raises(InvalidEvent, match=reason) as raised:
        validate_event(body, headers)

    assert "ada@example.com" not in str(raised.value)  # never the input


def test_a_valid_event_passes_with_or_without_its_version_header() -> None:
    body = registration()

    with_header = validate_event(body, {"event_version": UserRegistered.VERSION})
    without = validate_event(body, {})

    assert with_header == without
    assert isinstance(with_header.data, UserRegistered)
    assert isinstance(with_header.data, EventData)
    assert with_header.occurred_at <= datetime.now(UTC)
