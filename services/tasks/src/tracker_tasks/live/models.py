import uuid
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Index, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from tracker_tasks.db import Base


class TaskChange(Base):
    """One change of a person's tasks, as their live streams send it: numbered 1, 2, 3...
    per person, in the order the changes committed (the stream's event ids). Written in the
    transaction of the change; kept for ``TASKS_STREAM_RETENTION``, so that a stream that
    reconnects on any replica gets what it missed from here."""

    __tablename__ = "task_changes"
    __table_args__ = (Index("ix_task_changes_created_at", "created_at"),)

    owner_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    event_type: Mapped[str] = mapped_column(String(32))
    """``task.created``, ``task.updated`` or ``task.deleted``: the stream's event name."""
    data: Mapped[str] = mapped_column(Text)
    """The stream's data, JSON text as sent: the task exactly as the API answers with it, or
    ``{"id": ...}`` for a deletion."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ChangeFeedHead(Base):
    """A person's latest change position. Taking the next one locks this row until the
    change commits, so positions follow the commit order without gaps: a stream that has
    seen position n has seen every change before it."""

    __tablename__ = "task_change_heads"

    owner_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger)
