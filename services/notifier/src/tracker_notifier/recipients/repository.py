import uuid
from datetime import UTC, datetime

from sqlalchemy import delete, exists, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from tracker_notifier.recipients.models import ErasedUser, Recipient

PLACEHOLDER_CHANGED_AT = datetime(1970, 1, 1, tzinfo=UTC)
"""``updated_at`` of a recipient stored before any event with their state arrived: older
than every event, so the first one overwrites it."""


def lock_user(session: Session, user_id: uuid.UUID) -> None:
    """Serialise, until the transaction ends, everything done about one user: an event
    about them and their deletion never interleave (a recipient stored after the deletion
    committed would bring them back). A transaction-level advisory lock in the two-key
    space, which the delivery locks (one bigint key) never share."""
    session.execute(
        text("SELECT pg_advisory_xact_lock(hashtext('recipient'), hashtext(:user_id))"),
        {"user_id": str(user_id)},
    )


def is_erased(session: Session, user_id: uuid.UUID) -> bool:
    return bool(session.scalar(select(exists().where(ErasedUser.user_id == user_id))))


def upsert_recipient(
    session: Session,
    *,
    user_id: uuid.UUID,
    email: str,
    timezone: str,
    digest_enabled: bool,
    reminders_enabled: bool,
    email_verified: bool,
    changed_at: datetime,
) -> None:
    """Store the recipient, or update them unless the stored data is newer."""
    statement = insert(Recipient).values(
        user_id=user_id,
        email=email,
        timezone=timezone,
        digest_enabled=digest_enabled,
        reminders_enabled=reminders_enabled,
        email_verified=email_verified,
        updated_at=changed_at,
    )
    statement = statement.on_conflict_do_update(
        index_elements=[Recipient.user_id],
        set_={
            "email": statement.excluded.email,
            "timezone": statement.excluded.timezone,
            "digest_enabled": statement.excluded.digest_enabled,
            "reminders_enabled": statement.excluded.reminders_enabled,
            "email_verified": statement.excluded.email_verified,
            "updated_at": statement.excluded.updated_at,
        },
        where=Recipient.updated_at <= statement.excluded.updated_at,
    )
    session.execute(statement)


def ensure_recipient(session: Session, *, user_id: uuid.UUID, email: str, timezone: str) -> None:
    """A recipient for a mail that arrived before the user's state (the events of one
    registration may be handled in any order): unconfirmed, wanting no digest and no
    reminders, and older than any event, so the first event with their state replaces it.
    An existing recipient is left as it is."""
    statement = (
        insert(Recipient)
        .values(
            user_id=user_id,
            email=email,
            timezone=timezone,
            digest_enabled=False,
            reminders_enabled=False,
            email_verified=False,
            updated_at=PLACEHOLDER_CHANGED_AT,
        )
        .on_conflict_do_nothing(index_elements=[Recipient.user_id])
    )
    session.execute(statement)


def hold_recipient(session: Session, user_id: uuid.UUID) -> None:
    """Lock the recipient's row until the transaction ends: a digest tick that is storing
    their digest finishes first, and no later tick can take them (it skips locked rows)."""
    session.execute(select(Recipient.user_id).where(Recipient.user_id == user_id).with_for_update())


def erase(session: Session, user_id: uuid.UUID) -> None:
    """Delete the recipient (their digest claims go with them) and remember only the id
    (see :class:`ErasedUser`). Their deliveries must be gone first."""
    session.execute(
        insert(ErasedUser)
        .values(user_id=user_id)
        .on_conflict_do_nothing(index_elements=[ErasedUser.user_id])
    )
    session.execute(
        delete(Recipient)
        .where(Recipient.user_id == user_id)
        .execution_options(synchronize_session=False)
    )


def forget_erased_before(session: Session, before: datetime, *, limit: int) -> int:
    """Forget up to ``limit`` ids of accounts erased before ``before``."""
    old = (
        select(ErasedUser.user_id)
        .where(ErasedUser.erased_at < before)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    statement = delete(ErasedUser).where(ErasedUser.user_id.in_(old))
    result = session.execute(statement, execution_options={"synchronize_session": False})
    return int(getattr(result, "rowcount", 0) or 0)
