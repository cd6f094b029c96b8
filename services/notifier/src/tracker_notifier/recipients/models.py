import uuid
from datetime import datetime

from sqlalchemy import Boolean, DateTime, Index, String, text, true
from sqlalchemy.orm import Mapped, mapped_column

from tracker_notifier.db import Base


class Recipient(Base):
    """A user as the notifier needs them: where to write, and when their day ends."""

    __tablename__ = "recipients"
    __table_args__ = (
        Index(
            "ix_recipients_digest",
            "timezone",
            "user_id",
            postgresql_where=text("digest_enabled"),
        ),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    timezone: Mapped[str] = mapped_column(String(64))
    digest_enabled: Mapped[bool] = mapped_column(Boolean, server_default=true())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    """``occurred_at`` of the event that last changed the row, so that an older event
    arriving late never overwrites newer data."""
