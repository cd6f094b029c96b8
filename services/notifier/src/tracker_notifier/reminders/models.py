import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, Date, DateTime, Index, Integer, String, func, text
from sqlalchemy.orm import Mapped, mapped_column

from tracker_notifier.db import Base


class Reminder(Base):
    """One task as the reminders need it, kept from the ``task.*`` events: its owner, what
    the mail says (title, due date and time) and when to remind.

    ``version`` is the task's version in the newest event applied: an older event arriving
    late changes nothing. ``fire_at`` is when the reminder is due, and null when there is
    nothing to fire (no reminder, the task done or deleted, or this reminder fired or
    skipped already: ``fired_for`` holds the instant last handled, so a reminder moved
    elsewhere fires again at its new instant, once). A deleted task keeps its row, emptied,
    as a tombstone (``deleted_at``) so that a late event cannot bring it back; tombstones
    go after ``NOTIFIER_INBOX_RETENTION``, like the inbox."""

    __tablename__ = "reminders"
    __table_args__ = (
        Index("ix_reminders_due", "fire_at", postgresql_where=text("fire_at IS NOT NULL")),
        Index(
            "ix_reminders_deleted", "deleted_at", postgresql_where=text("deleted_at IS NOT NULL")
        ),
    )

    task_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(index=True)
    title: Mapped[str] = mapped_column(String(200))
    due_date: Mapped[date | None] = mapped_column(Date)
    due_time: Mapped[str | None] = mapped_column(String(5))
    """``HH:MM`` in the owner's timezone."""
    remind_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(8))
    version: Mapped[int] = mapped_column(Integer)
    task_updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    fire_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    fired_for: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ReminderSkips(Base):
    """How many reminders were skipped instead of sent, per reason: ``late`` (due longer
    ago than ``NOTIFIER_REMINDER_GRACE`` when the notifier got to them, after an outage)
    and ``unwanted`` (the person turned reminders off, has not confirmed the address, or is
    unknown). Counted here, where an operator can read them, and logged by each tick."""

    __tablename__ = "reminder_skips"

    reason: Mapped[str] = mapped_column(String(16), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
