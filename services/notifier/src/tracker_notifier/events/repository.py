import uuid

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from tracker_notifier.events.models import ProcessedEvent


def record_processed(session: Session, event_id: uuid.UUID, event_type: str) -> bool:
    """Record the event in the inbox; ``False`` when it was recorded before (a duplicate)."""
    statement = (
        insert(ProcessedEvent)
        .values(event_id=event_id, event_type=event_type)
        .on_conflict_do_nothing(index_elements=[ProcessedEvent.event_id])
        .returning(ProcessedEvent.event_id)
    )
    return session.execute(statement).first() is not None
