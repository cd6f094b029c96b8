import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from tracker_notifier.db import Base


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    """An SMTP transaction was started and its outcome not recorded (yet, or ever: a worker
    killed mid-send leaves this state behind)."""
    SENT = "sent"
    FAILED = "failed"


class Delivery(Base):
    """One mail to one recipient, sent at most once per idempotency key."""

    __tablename__ = "deliveries"
    __table_args__ = (
        Index(
            "ix_deliveries_unsent",
            "created_at",
            postgresql_where=text("status IN ('pending', 'sending')"),
        ),
        Index(
            "ix_deliveries_finished",
            "created_at",
            postgresql_where=text("status IN ('sent', 'failed')"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    """The ``KIND`` of the payload's model in ``tracker_notifier.mail.kinds``."""
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("recipients.user_id", ondelete="CASCADE"), index=True
    )
    event_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    """The event that caused the mail, if any."""
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(255))
    """The Subject header, fixed at creation like the Message-ID: every attempt carries
    the subject the mail was created with, even if its wording changed in between."""
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    """The kind's payload model as JSON: what the mail says besides the recipient."""
    message_id: Mapped[str] = mapped_column(String(255))
    """The Message-ID header, fixed at creation: every attempt, the one possible duplicate
    included, carries the same id, so mail clients can tell it is the same message."""
    status: Mapped[DeliveryStatus] = mapped_column(
        Enum(
            DeliveryStatus,
            name="status",
            native_enum=False,
            create_constraint=True,
            length=16,
            values_callable=lambda members: [member.value for member in members],
        ),
        server_default=DeliveryStatus.PENDING.value,
    )
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    attempted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    """When the latest attempt began (the delivery was marked ``sending``)."""
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
