import uuid
from datetime import datetime

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from tracker_notifier.recipients.models import Recipient


def upsert_recipient(
    session: Session,
    *,
    user_id: uuid.UUID,
    email: str,
    timezone: str,
    digest_enabled: bool,
    changed_at: datetime,
) -> None:
    """Store the recipient, or update them unless the stored data is newer."""
    statement = insert(Recipient).values(
        user_id=user_id,
        email=email,
        timezone=timezone,
        digest_enabled=digest_enabled,
        updated_at=changed_at,
    )
    statement = statement.on_conflict_do_update(
        index_elements=[Recipient.user_id],
        set_={
            "email": statement.excluded.email,
            "timezone": statement.excluded.timezone,
            "digest_enabled": statement.excluded.digest_enabled,
            "updated_at": statement.excluded.updated_at,
        },
        where=Recipient.updated_at <= statement.excluded.updated_at,
    )
    session.execute(statement)
