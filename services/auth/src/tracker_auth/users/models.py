import uuid
from datetime import datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    false,
    func,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from tracker_auth.db import Base
from tracker_auth.users.emails import TokenPurpose


class User(Base):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    email: Mapped[str] = mapped_column(String(254))
    """The address as the person typed it (domain normalised); mails go to it."""
    email_key: Mapped[str] = mapped_column(String(254), unique=True)
    """The one form in which addresses are compared (``emails.email_key``): casefolded in
    Python, never by the database, whose ``lower`` depends on its locale."""
    password_hash: Mapped[str] = mapped_column(String(255))
    timezone: Mapped[str] = mapped_column(String(64))
    digest_enabled: Mapped[bool] = mapped_column(Boolean, server_default=true())
    reminders_enabled: Mapped[bool] = mapped_column(Boolean, server_default=true())
    email_verified: Mapped[bool] = mapped_column(Boolean, server_default=false())
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class AccountToken(Base):
    """The secret of a link mailed to a person (confirm the address, reset the password),
    stored only as its SHA-256 digest. Single use: ``used_at`` is set when it is used or
    voided by a newer one."""

    __tablename__ = "account_tokens"
    __table_args__ = (Index("ix_account_tokens_user_id_purpose", "user_id", "purpose"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    # Deferred, so that a password reset for an unknown address can run the very same
    # statements as for a known one inside a savepoint it then rolls back (same timing).
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE", deferrable=True, initially="DEFERRED")
    )
    purpose: Mapped[TokenPurpose] = mapped_column(
        Enum(
            TokenPurpose,
            name="account_token_purpose",
            values_callable=lambda e: [m.value for m in e],
        )
    )
    token_digest: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    """Indexed for the retention, which deletes tokens long past it."""
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
