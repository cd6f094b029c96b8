"""Handling events against the real database, without a worker."""

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from tests.support.events import TOKEN, reset_requested, user_registered, verification_requested
from tracker_contracts import Envelope, EventData, SessionRevoked, UserRegistered
from tracker_notifier.db import Database
from tracker_notifier.deliveries.models import Delivery
from tracker_notifier.recipients.models import Recipient

from ..conftest import make_settings
from ..support import handle


def registered(
    user_id: uuid.UUID, email: str, *, at: datetime | None = None
) -> Envelope[EventData]:
    return user_registered(email, user_id=user_id, at=at)


def get_recipient(database: Database, user_id: uuid.UUID) -> Recipient:
    with database.transaction() as session:
        recipient = session.get(Recipient, user_id)
    assert recipient is not None
    return recipient


def get_delivery(database: Database, delivery_id: int) -> Delivery:
    with database.transaction() as session:
        delivery = session.get(Delivery, delivery_id)
    assert delivery is not None
    return delivery


def test_a_registration_stores_an_unconfirmed_recipient_and_its_welcome_mail(
    database: Database,
) -> None:
    user_id = uuid.uuid4()
    envelope = user_registered("ada@example.com", user_id=user_id, welcome=True)

    [delivery_id] = handle(database, envelope, make_settings())

    recipient = get_recipient(database, user_id)
    assert (recipient.email, recipient.timezone, recipient.digest_enabled) == (
        "ada@example.com",
        "Europe/Berlin",
        True,
    )
    assert (recipient.email_verified, recipient.reminders_enabled) == (False, True)
    delivery = get_delivery(database, delivery_id)
    assert delivery.kind == "welcome"
    assert delivery.idempotency_key == f"welcome:{user_id}"
    assert delivery.event_id == envelope.event_id
    assert delivery.to_address == "ada@example.com"
    assert delivery.payload["token"] == TOKEN  # until it is sent
    assert (delivery.status, delivery.attempts) == ("pending", 0)
    assert delivery.message_id.endswith("@tracker.example.org>")


def test_a_registration_stored_before_it_carried_the_link_mails_nothing(
    database: Database,
) -> None:
    user_id = uuid.uuid4()

    assert handle(database, registered(user_id, "ada@example.com"), make_settings()) == []

    assert get_recipient(database, user_id).email_verified is False
    with database.transaction() as session:
        assert session.scalars(select(Delivery)).all() == []


def test_the_welcome_request_of_an_older_registration_welcomes_once(
    database: Database,
) -> None:
    """Events stored before ``user.registered`` carried the link asked for the welcome
    with a ``user.verification_requested``; either way a person is welcomed once."""
    settings = make_settings()
    user_id = uuid.uuid4()
    handle(database, registered(user_id, "ada@example.com"), settings)
    envelope = verification_requested(user_id, "ada@example.com")

    [delivery_id] = handle(database, envelope, settings)
    with database.transaction() as session:
        session.execute(update(Delivery).values(status="sent", attempts=1))
    welcomed = user_registered("ada@example.com", user_id=user_id, welcome=True)

    assert handle(database, welcomed, settings) == []
    delivery = get_delivery(database, delivery_id)
    assert (delivery.kind, delivery.event_id) == ("welcome", envelope.event_id)
    with database.transaction() as session:
        assert session.scalars(select(Delivery.id)).all() == [delivery_id]


def test_a_new_link_and_a_reset_each_get_their_own_mail_even_unconfirmed(
    database: Database,
) -> None:
    settings = make_settings()
    user_id = uuid.uuid4()
    handle(database, registered(user_id, "ada@example.com"), settings)

    [confirm] = handle(
        database, verification_requested(user_id, "ada@example.com", welcome=False), settings
    )
    [again] = handle(
        database,
        verification_requested(
            user_id, "ada@example.com", welcome=False, expires_at=datetime.now(UTC)
        ),
        settings,
    )
    [reset] = handle(database, reset_requested(user_id, "ada@example.com"), settings)

    assert get_recipient(database, user_id).email_verified is False
    assert [get_delivery(database, d).kind for d in (confirm, again, reset)] == [
        "confirm-address",
        "confirm-address",
        "password-reset",
    ]
    assert get_delivery(database, reset).idempotency_key.startswith(f"password-reset:{user_id}:")


def test_the_welcome_before_the_registration_waits_for_the_user_state(
    database: Database,
) -> None:
    """The two events of one registration are handled in any order: the mail goes out,
    and the registration that comes second still sets the recipient."""
    settings = make_settings()
    user_id = uuid.uuid4()

    [delivery_id] = handle(database, verification_requested(user_id, "ada@example.com"), settings)
    placeholder = get_recipient(database, user_id)
    handle(database, registered(user_id, "ada@example.com"), settings)

    assert placeholder.digest_enabled is False
    assert placeholder.email_verified is False
    recipient = get_recipient(database, user_id)
    assert (recipient.timezone, recipient.digest_enabled, recipient.email_verified) == (
        "Europe/Berlin",
        True,
        False,
    )
    assert get_delivery(database, delivery_id).kind == "welcome"


def test_a_duplicate_only_returns_deliveries_its_first_handling_left_unsent(
    database: Database,
) -> None:
    settings = make_settings()
    envelope = verification_requested(uuid.uuid4(), "ada@example.com")
    [delivery_id] = handle(database, envelope, settings)

    # Killed after the commit and before sending: the redelivery sends it.
    assert handle(database, envelope, settings) == [delivery_id]
    # Killed mid-send: the redelivery sends it again (the documented duplicate window).
    with database.transaction() as session:
        session.execute(update(Delivery).values(status="sending", attempts=1))
    assert handle(database, envelope, settings) == [delivery_id]

    # Deferred by the server: its retry task sends it, not the redelivered event.
    with database.transaction() as session:
        session.execute(update(Delivery).values(status="pending", attempts=1))
    assert handle(database, envelope, settings) == []
    with database.transaction() as session:
        assert len(session.scalars(select(Delivery)).all()) == 1


def test_a_user_is_welcomed_once_even_under_another_event_id(database: Database) -> None:
    settings = make_settings()
    user_id = uuid.uuid4()
    [delivery_id] = handle(database, verification_requested(user_id, "ada@example.com"), settings)
    with database.transaction() as session:
        session.execute(update(Delivery).values(status="sent", attempts=1))

    assert handle(database, verification_requested(user_id, "ada@example.com"), settings) == []
    with database.transaction() as session:
        assert session.scalars(select(Delivery.id)).all() == [delivery_id]


def test_an_older_event_never_overwrites_newer_recipient_data(database: Database) -> None:
    settings = make_settings()
    user_id = uuid.uuid4()
    now = datetime.now(UTC)
    handle(database, registered(user_id, "new@example.com", at=now), settings)
    handle(database, registered(user_id, "old@example.com", at=now - timedelta(hours=1)), settings)

    assert get_recipient(database, user_id).email == "new@example.com"


def test_an_unknown_timezone_falls_back_to_the_default(database: Database) -> None:
    settings = make_settings(default_timezone="America/New_York")
    user_id = uuid.uuid4()
    data = UserRegistered(user_id=user_id, email="ada@example.com", timezone="Mars/Olympus")
    handle(database, Envelope[EventData](event_type=data.EVENT_TYPE, data=data), settings)

    assert get_recipient(database, user_id).timezone == "America/New_York"


def test_events_the_notifier_does_not_handle_change_nothing(database: Database) -> None:
    data = SessionRevoked(
        session_id=uuid.uuid4(), user_id=uuid.uuid4(), expires_at=datetime.now(UTC)
    )
    envelope = Envelope[EventData](event_type=data.EVENT_TYPE, data=data)

    assert handle(database, envelope, make_settings()) == []
