"""A person with reminders, and a reminders tick run in the test process."""

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from tests.support.events import user_registered, user_verified_state
from tracker_notifier.config import Settings
from tracker_notifier.db import Database
from tracker_notifier.reminders.models import Reminder
from tracker_notifier.reminders.service import ReminderRun

from ..support import handle


@dataclass
class Ticks:
    """Ticks on the test database whose mails and wake-ups are kept, not sent."""

    database: Database
    settings: Settings
    queued: list[int] = field(default_factory=list)
    wake_ups: list[datetime] = field(default_factory=list)

    def run(self) -> ReminderRun:
        return ReminderRun(
            self.database, self.settings, enqueue=self.queued.extend, wake_up=self.wake_ups.append
        )


def person(
    database: Database,
    settings: Settings,
    email: str,
    *,
    timezone: str = "Europe/Berlin",
    reminders_enabled: bool = True,
    email_verified: bool = True,
) -> uuid.UUID:
    """A recipient, confirmed and wanting reminders unless told otherwise."""
    registered = user_registered(email, timezone=timezone)
    user_id = registered.data.user_id  # type: ignore[attr-defined]
    handle(database, registered, settings)
    handle(
        database,
        user_verified_state(
            user_id,
            email=email,
            timezone=timezone,
            reminders_enabled=reminders_enabled,
            email_verified=email_verified,
        ),
        settings,
    )
    assert isinstance(user_id, uuid.UUID)
    return user_id


def stored(database: Database, task_id: uuid.UUID) -> Reminder | None:
    with database.transaction() as session:
        return session.scalars(select(Reminder).where(Reminder.task_id == task_id)).one_or_none()
