"""Handling events against the real database, without a worker."""

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from tests.support import events
from tests.support.events import user_registered
from tracker_contracts import SessionRevoked, UserRegistered
from tracker_notifier.db import Database
from tracker_notifier.deliveries.models import Delivery
from tracker_notifier.recipients.models import Recipient

from ..conftest import make_settings
from ..support import handle


def test_a_registration_stores_the_recipient_and_one_welcome_delivery(database: Database) -> None:
    settings = make_settings()
    user_id = uuid.uuid4()
    envelope = user_registered("ada@example.com", user_id=user_id)

    [delivery_id] = handle(database, envelope, settings)

    with database.transaction() as session:
        recipient = session.get(Recipient, user_id)
        delivery = session.get(Delivery, delivery_id)
    assert recipient is not None
    assert (recipient.email, recipient.timezone, recipient.digest_enabled) == (
        "ada@example.com",
        "Europe/Berlin",
        True,
    )
    assert delivery is not None
    assert delivery.idempotency_key == f"welcome:{user_id}"
    assert delivery.event_id == envelope.event_id
    assert (delivery.status, delivery.attempts) == ("pending", 0)
    assert delivery.message_id.endswith("@tracker.example.org>")


def test_a_duplicate_only_returns_deliveries_no_task_has_touched(database: Database) -> None:
    settings = make_settings()
    envelope = user_registered("ada@example.com")
    [delivery_id] = handle(database, envelope, settings)

    # Killed after the commit and before the send was enqueued: the redelivery enqueues it.
    assert handle(database, envelope, settings) == [delivery_id]

    with database.transaction() as session:
        session.execute(update(Delivery).values(attempts=1))
    assert handle(database, envelope, settings) == []
    with database.transaction() as session:
        assert len(session.scalars(select(Delivery)).all()) == 1


def test_a_user_is_welcomed_once_even_under_another_event_id(database: Database) -> None:
    settings = make_settings()
    user_id = uuid.uuid4()
    [delivery_id] = handle(database, user_registered("ada@example.com", user_id=user_id), settings)
    with database.transaction() as session:
        session.execute(update(Delivery).values(status="sent", attempts=1))

    assert handle(database, user_registered("ada@example.com", user_id=user_id), settings) == []
    with database.transaction() as session:
        assert session.scalars(select(Delivery.id)).all() == [delivery_id]


def test_an_older_event_never_overwrites_newer_recipient_data(database: Database) -> None:
    settings = make_settings()
    user_id = uuid.uuid4()
    now = datetime.now(UTC)
    handle(database, user_registered("new@example.com", user_id=user_id, at=now), settings)
    handle(
        database,
        user_registered("old@example.com", user_id=user_id, at=now - timedelta(hours=1)),
        settings,
    )

    with database.transaction() as session:
        recipient = session.get(Recipient, user_id)
    assert recipient is not None
    assert recipient.email == "new@example.com"


def test_an_unknown_timezone_falls_back_to_the_default(database: Database) -> None:
    settings = make_settings(default_timezone="America/New_York")
    user_id = uuid.uuid4()
    data = UserRegistered(user_id=user_id, email="ada@example.com", timezone="Mars/Olympus")
    handle(database, events.envelope(data), settings)

    with database.transaction() as session:
        recipient = session.get(Recipient, user_id)
    assert recipient is not None
    assert recipient.timezone == "America/New_York"


def test_events_the_notifier_does_not_handle_change_nothing(database: Database) -> None:
    data = SessionRevoked(
        session_id=uuid.uuid4(), user_id=uuid.uuid4(), expires_at=datetime.now(UTC)
    )
    revoked = events.envelope(data)

    assert handle(database, revoked, make_settings()) == []
