import uuid
from datetime import date, datetime, time
from enum import StrEnum

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    Enum,
    Index,
    String,
    Text,
    Time,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from tracker_tasks.db import Base

TITLE_MAX_LENGTH = 200
DESCRIPTION_MAX_LENGTH = 10_000


class TaskStatus(StrEnum):
    OPEN = "open"
    DONE = "done"


class Task(Base):
    """One item of a person's list. ``owner_id`` is the auth service's user id: users live in
    auth's database, so there is no foreign key, only the id from the access token."""

    __tablename__ = "tasks"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'done')", name="status"),
        CheckConstraint(
            "(status = 'done') = (completed_at IS NOT NULL)", name="completed_at_iff_done"
        ),
        CheckConstraint(
            f"char_length(title) BETWEEN 1 AND {TITLE_MAX_LENGTH}", name="title_length"
        ),
        CheckConstraint(
            f"char_length(description) <= {DESCRIPTION_MAX_LENGTH}", name="description_length"
        ),
        CheckConstraint("due_time IS NULL OR due_date IS NOT NULL", name="due_time_needs_date"),
        # Open tasks of a person by creation: the list (newest first) and the digest's
        # oldest open titles and count.
        Index("ix_tasks_owner_status_created", "owner_id", "status", "created_at", "id"),
        # Done tasks of a person by completion: the list (newest first) and the digest's
        # "completed in this window".
        Index(
            "ix_tasks_owner_completed",
            "owner_id",
            "completed_at",
            "id",
            postgresql_where=text("status = 'done'"),
        ),
        # Open dated tasks of a person by due date and time (ascending, so a day's untimed
        # tasks come after its timed ones): the list sorted by due date, and the digest's
        # "overdue" and "due today".
        Index(
            "ix_tasks_owner_open_due",
            "owner_id",
            "due_date",
            "due_time",
            "id",
            postgresql_where=text("status = 'open' AND due_date IS NOT NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    owner_id: Mapped[uuid.UUID]
    title: Mapped[str] = mapped_column(String(TITLE_MAX_LENGTH))
    description: Mapped[str] = mapped_column(Text, server_default="")
    status: Mapped[TaskStatus] = mapped_column(
        Enum(
            TaskStatus,
            native_enum=False,
            length=16,
            values_callable=lambda statuses: [status.value for status in statuses],
        ),
        server_default=TaskStatus.OPEN.value,
    )
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    version: Mapped[int] = mapped_column(server_default=text("1"))
    due_date: Mapped[date | None] = mapped_column(Date)
    due_time: Mapped[time | None] = mapped_column(Time(timezone=False))
    """In the owner's timezone, which this service does not know: a wall-clock time."""
    reminder_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
