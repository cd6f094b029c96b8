import uuid
from datetime import datetime

from sqlalchemy import Boolean, DateTime, Index, String, func, text, true
from sqlalchemy.orm import Mapped, mapped_column

from tracker_notifier.db import Base


class Recipient(Base):
    """A user as the notifier needs them: where to write, when their day ends, which mails
    they want, and whether they confirmed the address (until then they get only the mails
    that carry a link: the welcome, a new confirmation link, a password reset)."""

    __tablename__ = "recipients"
    __table_args__ = (
        Index(
            "ix_recipients_digest",
            "timezone",
            "user_id",
            postgresql_where=text("digest_enabled AND email_verified"),
        ),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    timezone: Mapped[str] = mapped_column(String(64))
    digest_enabled: Mapped[bool] = mapped_column(Boolean, server_default=true())
    reminders_enabled: Mapped[bool] = mapped_column(Boolean, server_default=true())
    email_verified: Mapped[bool] = mapped_column(Boolean)
    """Whether the person confirmed the address. No default: every row says it (the
    migration that added it counted the recipients of the time as confirmed)."""
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    """``occurred_at`` of the event that last changed the row, so that an older event
    arriving late never overwrites newer data."""


class ErasedUser(Base):
    """The id of a deleted account, and nothing else, kept so that an older event about
    them (``user.updated`` redelivered, a dead-lettered ``user.registered`` replayed) never
    brings the recipient back.

    This is the one trace of a deleted account the notifier keeps, and it is needed: events
    arrive in any order and may come back from RabbitMQ later, and without it a stale event
    would recreate the recipient, address included, and mail them again. The id is the auth
    service's random user id, which says nothing about the person and is never given to
    anyone else. It is kept for ``NOTIFIER_INBOX_RETENTION`` (the digest tick deletes older
    ones), the same bound as the inbox: an event older than that cannot come back from
    RabbitMQ any more, so after it nothing can recreate the recipient."""

    __tablename__ = "erased_users"

    user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    erased_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )
