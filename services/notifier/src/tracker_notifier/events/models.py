import uuid
from datetime import datetime

from sqlalchemy import DateTime, String, func
from sqlalchemy.orm import Mapped, mapped_column

from tracker_notifier.db import Base


class ProcessedEvent(Base):
    """The inbox: an event recorded here has been handled and is skipped when redelivered."""

    __tablename__ = "processed_events"

    event_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    event_type: Mapped[str] = mapped_column(String(100))
    processed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )
    """Indexed for the retention, which deletes the ids of events handled long ago."""
