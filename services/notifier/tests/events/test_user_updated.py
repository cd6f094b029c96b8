"""``user.updated`` against the real database, without a worker: new mail preferences."""

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from tests.support.events import user_registered, user_updated
from tracker_notifier.db import Database
from tracker_notifier.deliveries.models import Delivery
from tracker_notifier.recipients.models import Recipient

from ..conftest import make_settings
from ..support import handle

NOW = datetime(2031, 3, 14, 9, 26, 53, tzinfo=UTC)


def recipient(database: Database, user_id: uuid.UUID) -> tuple[str, str, bool, datetime]:
    with database.transaction() as session:
        row = session.get(Recipient, user_id)
    assert row is not None
    return (row.email, row.timezone, row.digest_enabled, row.updated_at)


def deliveries(database: Database) -> int:
    with database.transaction() as session:
        return session.scalar(select(func.count()).select_from(Delivery)) or 0


def test_an_update_changes_timezone_and_digest(database: Database) -> None:
    settings = make_settings()
    user_id = uuid.uuid4()
    handle(database, user_registered(user_id=user_id, at=NOW), settings)
    later = NOW + timedelta(minutes=5)

    sent = handle(
        database,
        user_updated(user_id, at=later, timezone="Asia/Tokyo", digest_enabled=False),
        settings,
    )

    assert sent == []  # no mail for a change of preferences
    assert recipient(database, user_id) == ("ada@example.com", "Asia/Tokyo", False, later)
    assert deliveries(database) == 0


def test_the_digest_can_be_turned_on_again(database: Database) -> None:
    settings = make_settings()
    user_id = uuid.uuid4()
    handle(database, user_registered(user_id=user_id, at=NOW), settings)
    handle(
        database,
        user_updated(user_id, at=NOW + timedelta(minutes=1), digest_enabled=False),
        settings,
    )

    handle(
        database,
        user_updated(user_id, at=NOW + timedelta(minutes=2), digest_enabled=True),
        settings,
    )

    assert recipient(database, user_id)[2] is True


def test_the_email_in_the_update_is_kept(database: Database) -> None:
    settings = make_settings()
    user_id = uuid.uuid4()
    handle(database, user_registered(user_id=user_id, at=NOW), settings)

    handle(
        database,
        user_updated(user_id, at=NOW + timedelta(seconds=1), email="ada@new.example"),
        settings,
    )

    assert recipient(database, user_id)[0] == "ada@new.example"


def test_an_older_update_arriving_after_a_newer_one_changes_nothing(database: Database) -> None:
    settings = make_settings()
    user_id = uuid.uuid4()
    handle(database, user_registered(user_id=user_id, at=NOW - timedelta(days=1)), settings)
    handle(
        database,
        user_updated(user_id, at=NOW, timezone="Asia/Tokyo", digest_enabled=False),
        settings,
    )

    sent = handle(
        database,
        user_updated(
            user_id,
            at=NOW - timedelta(hours=1),
            timezone="America/Chicago",
            digest_enabled=True,
            email="old@example.com",
        ),
        settings,
    )

    assert sent == []
    assert recipient(database, user_id) == ("ada@example.com", "Asia/Tokyo", False, NOW)


def test_a_late_registration_does_not_undo_a_newer_update(database: Database) -> None:
    """The update overtook the registration: the registration never turns a digest back
    on that the user turned off."""
    settings = make_settings()
    user_id = uuid.uuid4()
    handle(
        database,
        user_updated(user_id, at=NOW, timezone="Asia/Tokyo", digest_enabled=False),
        settings,
    )

    sent = handle(
        database, user_registered(user_id=user_id, at=NOW - timedelta(seconds=1)), settings
    )

    assert sent == []
    assert recipient(database, user_id) == ("ada@example.com", "Asia/Tokyo", False, NOW)


def test_an_update_for_a_user_never_registered_here_creates_the_recipient(
    database: Database,
) -> None:
    settings = make_settings()
    user_id = uuid.uuid4()

    sent = handle(
        database,
        user_updated(user_id, at=NOW, timezone="Africa/Nairobi", digest_enabled=False),
        settings,
    )

    assert sent == []
    assert recipient(database, user_id) == ("ada@example.com", "Africa/Nairobi", False, NOW)
    assert deliveries(database) == 0


def test_an_unknown_timezone_falls_back_to_the_default(database: Database) -> None:
    settings = make_settings(default_timezone="America/New_York")
    user_id = uuid.uuid4()
    handle(database, user_registered(user_id=user_id, at=NOW), settings)

    handle(
        database,
        user_updated(user_id, at=NOW + timedelta(seconds=1), timezone="Mars/Olympus"),
        settings,
    )

    assert recipient(database, user_id)[1] == "America/New_York"


def test_an_unknown_timezone_for_a_new_recipient_falls_back_to_the_default(
    database: Database,
) -> None:
    settings = make_settings(default_timezone="Europe/Madrid")
    user_id = uuid.uuid4()

    handle(database, user_updated(user_id, at=NOW, timezone="Not/A_Zone"), settings)

    assert recipient(database, user_id)[1] == "Europe/Madrid"


def test_a_redelivered_update_is_applied_once(database: Database) -> None:
    """The broker delivers at least once: an event delivered again after newer ones
    changes nothing and sends nothing."""
    settings = make_settings()
    user_id = uuid.uuid4()
    first = user_updated(user_id, at=NOW, digest_enabled=False)
    handle(database, first, settings)
    handle(
        database,
        user_updated(user_id, at=NOW + timedelta(seconds=1), digest_enabled=True),
        settings,
    )

    assert handle(database, first, settings) == []

    assert recipient(database, user_id)[2] is True


def test_updates_of_one_user_leave_the_others_alone(database: Database) -> None:
    settings = make_settings()
    ada, grace = uuid.uuid4(), uuid.uuid4()
    handle(database, user_registered(user_id=ada, at=NOW), settings)
    handle(database, user_registered(user_id=grace, at=NOW), settings)

    handle(
        database, user_updated(grace, at=NOW + timedelta(seconds=1), digest_enabled=False), settings
    )

    assert recipient(database, ada)[2] is True
    assert recipient(database, grace)[2] is False
