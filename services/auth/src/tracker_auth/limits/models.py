from datetime import datetime

from sqlalchemy import DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from tracker_auth.db import Base


class RateLimit(Base):
    """Attempts counted per key (failed logins of an account, registrations or mails from
    a client address or to a target address) in a fixed window. Kept in PostgreSQL so
    that every replica sees the same counts."""

    __tablename__ = "rate_limits"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    hits: Mapped[int] = mapped_column(Integer)
    window_started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
