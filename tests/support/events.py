"""Events as auth and the tasks service publish them, built for the consumers' tests."""

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from tracker_contracts import (
    Envelope,
    EventData,
    TaskCompleted,
    TaskCreated,
    TaskDeleted,
    TaskUpdated,
    UserPasswordResetRequested,
    UserRegistered,
    UserUpdated,
    UserVerificationRequested,
)

TOKEN = "Zq8_verification-token-0123456789abcdef"
"""The link token of the mail requests built here."""


def envelope(data: EventData, at: datetime | None = None) -> Envelope[EventData]:
    """``data`` in the envelope of an event that occurred ``at`` (now by default)."""
    return Envelope[EventData](
        event_type=data.EVENT_TYPE, data=data, occurred_at=at or datetime.now(UTC)
    )


def user_registered(
    email: str = "ada@example.com",
    *,
    user_id: uuid.UUID | None = None,
    timezone: str = "Europe/Berlin",
    at: datetime | None = None,
    welcome: bool = False,
) -> Envelope[EventData]:
    """``user.registered`` of ``email`` (a new user id unless ``user_id`` is given); with
    the welcome mail's link (:data:`TOKEN`) when ``welcome``, as auth publishes it, or
    without, as events stored before it carried the link."""
    link = {"token": TOKEN, "expires_at": datetime.now(UTC) + timedelta(days=2)} if welcome else {}
    data = UserRegistered(user_id=user_id or uuid.uuid4(), email=email, timezone=timezone, **link)
    return envelope(data, at)


def user_updated(
    user_id: uuid.UUID,
    *,
    email: str = "ada@example.com",
    timezone: str = "Europe/Berlin",
    digest_enabled: bool = True,
    at: datetime | None = None,
) -> Envelope[EventData]:
    """``user.updated``: the user's mail preferences as they now are."""
    data = UserUpdated(
        user_id=user_id, email=email, timezone=timezone, digest_enabled=digest_enabled
    )
    return envelope(data, at)


def verification_requested(
    user_id: uuid.UUID,
    email: str = "ada@example.com",
    *,
    welcome: bool = True,
    expires_at: datetime | None = None,
    at: datetime | None = None,
) -> Envelope[EventData]:
    """``user.verification_requested``: a new link with :data:`TOKEN` (or, with ``welcome``,
    the welcome mail as events stored before ``user.registered`` carried it asked for it)."""
    data = UserVerificationRequested(
        user_id=user_id,
        email=email,
        token=TOKEN,
        expires_at=expires_at or datetime.now(UTC) + timedelta(days=2),
        welcome=welcome,
    )
    return envelope(data, at)


def reset_requested(
    user_id: uuid.UUID, email: str = "ada@example.com", *, expires_at: datetime | None = None
) -> Envelope[EventData]:
    """``user.password_reset_requested`` with :data:`TOKEN`, living 30 minutes."""
    data = UserPasswordResetRequested(
        user_id=user_id,
        email=email,
        token=TOKEN,
        expires_at=expires_at or datetime.now(UTC) + timedelta(minutes=30),
    )
    return envelope(data)


def task_event(
    task_id: uuid.UUID,
    user_id: uuid.UUID,
    *,
    version: int = 1,
    title: str = "Water the plants",
    status: Literal["open", "done"] = "open",
    reminder_at: datetime | None = None,
    due_date: date | None = None,
    due_time: str | None = None,
    updated_at: datetime | None = None,
) -> Envelope[EventData]:
    """``task.created`` (``version`` 1) or ``task.updated`` (later versions): the whole task
    as it is at ``version``."""
    now = updated_at or datetime.now(UTC)
    model = TaskCreated if version == 1 else TaskUpdated
    data = model(
        task_id=task_id,
        user_id=user_id,
        title=title,
        description="",
        status=status,
        completed_at=now if status == "done" else None,
        created_at=now,
        updated_at=now,
        version=version,
        due_date=due_date,
        due_time=due_time,
        reminder_at=reminder_at,
    )
    return envelope(data)


def task_deleted(task_id: uuid.UUID, user_id: uuid.UUID) -> Envelope[EventData]:
    return envelope(TaskDeleted(task_id=task_id, user_id=user_id))


def task_completed(
    task_id: uuid.UUID, user_id: uuid.UUID, *, completed_at: datetime | None = None
) -> Envelope[EventData]:
    return envelope(
        TaskCompleted(
            task_id=task_id,
            user_id=user_id,
            title="Water the plants",
            completed_at=completed_at or datetime.now(UTC),
        )
    )


def user_verified_state(
    user_id: uuid.UUID,
    *,
    email: str = "ada@example.com",
    timezone: str = "Europe/Berlin",
    reminders_enabled: bool = True,
    email_verified: bool = True,
    at: datetime | None = None,
) -> Envelope[EventData]:
    """``user.updated`` with the whole state: confirmed (or not), reminders on (or off)."""
    data = UserUpdated(
        user_id=user_id,
        email=email,
        timezone=timezone,
        digest_enabled=True,
        reminders_enabled=reminders_enabled,
        email_verified=email_verified,
    )
    return envelope(data, at)
