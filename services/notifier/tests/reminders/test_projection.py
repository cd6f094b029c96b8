"""The reminders projection: what each task event does to a task's reminder."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from tests.support.events import envelope, task_completed, task_deleted, task_event
from tracker_contracts import UserDeleted
from tracker_notifier.config import Settings
from tracker_notifier.db import Database
from tracker_notifier.deliveries.models import Delivery
from tracker_notifier.reminders.models import Reminder

from ..conftest import make_settings
from ..support import handle
from .helpers import Ticks, person, stored

SOON = timedelta(minutes=5)


@pytest.fixture
def settings() -> Settings:
    return make_settings()


@pytest.fixture
def ticks(database: Database, settings: Settings) -> Ticks:
    return Ticks(database, settings)


def fire_at(database: Database, task_id: uuid.UUID) -> datetime | None:
    row = stored(database, task_id)
    assert row is not None
    return row.fire_at


def test_a_new_task_with_a_reminder_is_due_at_its_instant(
    database: Database, settings: Settings
) -> None:
    user, task = person(database, settings, "ada@example.com"), uuid.uuid4()
    at = datetime.now(UTC) + SOON

    handle(database, task_event(task, user, reminder_at=at, title="Call Grace"), settings)

    row = stored(database, task)
    assert row is not None
    assert (row.fire_at, row.title, row.version, row.user_id) == (at, "Call Grace", 1, user)


def test_an_older_version_arriving_late_changes_nothing(
    database: Database, settings: Settings
) -> None:
    user, task = person(database, settings, "ada@example.com"), uuid.uuid4()
    first, moved = datetime.now(UTC) + SOON, datetime.now(UTC) + 2 * SOON

    handle(database, task_event(task, user, version=3, reminder_at=moved, title="New"), settings)
    handle(database, task_event(task, user, version=2, reminder_at=first, title="Old"), settings)
    handle(database, task_event(task, user, version=1, reminder_at=first, title="Older"), settings)

    row = stored(database, task)
    assert row is not None
    assert (row.version, row.title, row.fire_at) == (3, "New", moved)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"status": "done"}, id="done"),
        pytest.param({"reminder_at": None}, id="cleared"),
    ],
)
def test_a_task_done_or_a_reminder_cleared_cancels_it(
    database: Database, settings: Settings, ticks: Ticks, change: dict[str, object]
) -> None:
    user, task = person(database, settings, "ada@example.com"), uuid.uuid4()
    at = datetime.now(UTC) - timedelta(seconds=1)
    handle(database, task_event(task, user, reminder_at=at), settings)

    changed = task_event(
        task,
        user,
        version=2,
        status="done" if change.get("status") == "done" else "open",
        reminder_at=at if "reminder_at" not in change else None,
    )
    handle(database, changed, settings)
    report = ticks.run().fire_due(datetime.now(UTC))

    assert fire_at(database, task) is None
    assert report.queued == 0
    assert ticks.queued == []


def test_task_completed_cancels_it_unless_a_newer_change_reopened_the_task(
    database: Database, settings: Settings
) -> None:
    user = person(database, settings, "ada@example.com")
    done, reopened = uuid.uuid4(), uuid.uuid4()
    at = datetime.now(UTC) + SOON
    completed_at = datetime.now(UTC)
    handle(database, task_event(done, user, reminder_at=at), settings)
    handle(
        database,
        task_event(reopened, user, version=3, reminder_at=at, updated_at=completed_at + SOON),
        settings,
    )

    handle(database, task_completed(done, user, completed_at=completed_at + SOON), settings)
    handle(database, task_completed(reopened, user, completed_at=completed_at), settings)

    assert fire_at(database, done) is None
    assert fire_at(database, reopened) == at


def test_a_deleted_task_cancels_it_and_no_late_event_brings_it_back(
    database: Database, settings: Settings, ticks: Ticks
) -> None:
    user, task, early = person(database, settings, "ada@example.com"), uuid.uuid4(), uuid.uuid4()
    at = datetime.now(UTC) - timedelta(seconds=1)
    handle(database, task_event(task, user, reminder_at=at, title="Secret plans"), settings)

    handle(database, task_deleted(task, user), settings)
    handle(database, task_event(task, user, version=5, reminder_at=at), settings)
    # A deletion that overtook the creation.
    handle(database, task_deleted(early, user), settings)
    handle(database, task_event(early, user, reminder_at=at), settings)
    ticks.run().fire_due(datetime.now(UTC))

    for task_id in (task, early):
        row = stored(database, task_id)
        assert row is not None
        assert row.deleted_at is not None
        assert (row.fire_at, row.title, row.remind_at) == (None, "", None)
    assert ticks.queued == []


def test_a_moved_reminder_fires_at_its_new_instant_once(
    database: Database, settings: Settings, ticks: Ticks
) -> None:
    user, task = person(database, settings, "ada@example.com"), uuid.uuid4()
    first = datetime.now(UTC) - timedelta(seconds=2)
    handle(database, task_event(task, user, reminder_at=first), settings)
    ticks.run().fire_due(datetime.now(UTC))
    moved = datetime.now(UTC) + SOON

    handle(database, task_event(task, user, version=2, reminder_at=moved), settings)
    before = ticks.run().fire_due(datetime.now(UTC))
    at_new_instant = ticks.run().fire_due(moved)
    again = ticks.run().fire_due(moved + SOON)
    # The same instant again (an edit of another field) does not fire it a second time.
    handle(database, task_event(task, user, version=3, reminder_at=moved, title="T"), settings)
    after_edit = ticks.run().fire_due(moved + SOON)

    assert (before.queued, at_new_instant.queued, again.queued, after_edit.queued) == (0, 1, 0, 0)
    with database.transaction() as session:
        keys = sorted(session.scalars(select(Delivery.idempotency_key)))
    assert keys == sorted(
        f"reminder:{task}:{instant.astimezone(UTC).isoformat()}" for instant in (first, moved)
    )


def test_a_moved_back_reminder_of_a_task_reopened_fires_again(
    database: Database, settings: Settings, ticks: Ticks
) -> None:
    user, task = person(database, settings, "ada@example.com"), uuid.uuid4()
    at = datetime.now(UTC) - timedelta(seconds=1)
    handle(database, task_event(task, user, reminder_at=at, status="done"), settings)
    handle(database, task_event(task, user, version=2, reminder_at=at), settings)

    report = ticks.run().fire_due(datetime.now(UTC))

    assert report.queued == 1


def test_user_deleted_erases_their_reminders_and_refuses_later_task_events(
    database: Database, settings: Settings, ticks: Ticks
) -> None:
    user, other = (
        person(database, settings, "ada@example.com"),
        person(database, settings, "grace@example.com"),
    )
    theirs, kept = uuid.uuid4(), uuid.uuid4()
    at = datetime.now(UTC) - timedelta(seconds=1)
    handle(database, task_event(theirs, user, reminder_at=at), settings)
    handle(database, task_event(kept, other, reminder_at=at + SOON), settings)

    handle(database, envelope(UserDeleted(user_id=user)), settings)
    handle(database, task_event(uuid.uuid4(), user, reminder_at=at), settings)
    handle(database, task_event(theirs, user, version=2, reminder_at=at), settings)
    handle(database, task_deleted(theirs, user), settings)
    report = ticks.run().fire_due(datetime.now(UTC))

    with database.transaction() as session:
        owners = list(session.scalars(select(Reminder.user_id)))
    assert owners == [other]
    assert report.queued == 0


def test_tombstones_are_forgotten_after_the_inbox_retention(
    database: Database, settings: Settings
) -> None:
    user, task = person(database, settings, "ada@example.com"), uuid.uuid4()
    handle(database, task_deleted(task, user), settings)
    old = make_settings(inbox_retention=timedelta(days=1))

    Ticks(database, old).run().tick(datetime.now(UTC))
    assert stored(database, task) is not None
    Ticks(database, old).run().tick(datetime.now(UTC) + timedelta(days=2))
    with database.transaction() as session:
        session.execute(update(Reminder).values(deleted_at=datetime.now(UTC) - timedelta(days=2)))
    Ticks(database, old).run().tick(datetime.now(UTC))

    assert stored(database, task) is None
