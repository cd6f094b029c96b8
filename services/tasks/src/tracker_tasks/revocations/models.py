import uuid
from datetime import datetime

from sqlalchemy import DateTime
from sqlalchemy.orm import Mapped, mapped_column

from tracker_tasks.db import Base


class RevokedSession(Base):
    """A session that ended (logout, refresh-token reuse): its access tokens are refused.

    Kept in PostgreSQL, not in memory: the session queue delivers each event to one replica
    only, and every replica must refuse the session.
    """

    __tablename__ = "revoked_sessions"

    session_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
