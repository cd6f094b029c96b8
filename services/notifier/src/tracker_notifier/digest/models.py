import uuid
from datetime import date, datetime

from sqlalchemy import Date, DateTime, ForeignKey, func
from sqlalchemy.orm import Mapped, mapped_column

from tracker_notifier.db import Base


class DigestClaim(Base):
    """The digest of one user for one local day, claimed before anything is sent.

    The primary key is the "at most once, ever" rule: whichever tick inserts the row first
    (two beats, two workers, a retried task, ``make digest``) handles the digest; the others
    find it taken. The mail itself, if there was anything to say, is the delivery with the
    idempotency key ``digest:{user_id}:{day}``.
    """

    __tablename__ = "digest_claims"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("recipients.user_id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    claimed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )
