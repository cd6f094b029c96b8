import uuid
from datetime import datetime

from sqlalchemy import Table, delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from tracker_auth.sessions.models import AuthSession
from tracker_auth.users.emails import TokenPurpose, email_key
from tracker_auth.users.models import AccountToken, User
from tracker_contracts import EventType


async def insert_unless_taken(
    db: AsyncSession, *, email: str, password_hash: str, timezone: str
) -> User | None:
    """Insert a user, address not yet confirmed; ``None`` when the address is taken (in
    its compared form, ``emails.email_key``)."""
    statement = (
        insert(User)
        .values(
            id=uuid.uuid4(),
            email=email,
            email_key=email_key(email),
            password_hash=password_hash,
            timezone=timezone,
            email_verified=False,
        )
        .on_conflict_do_nothing(index_elements=[User.email_key])
        .returning(User)
    )
    return (await db.scalars(statement)).one_or_none()


async def by_email_key(db: AsyncSession, key: str) -> User | None:
    statement = select(User).where(User.email_key == key)
    return (await db.scalars(statement)).one_or_none()


async def by_live_session(db: AsyncSession, session_id: uuid.UUID, now: datetime) -> User | None:
    """The user of a session that is neither revoked nor past its absolute lifetime."""
    statement = (
        select(User)
        .join(AuthSession, AuthSession.user_id == User.id)
        .where(
            AuthSession.id == session_id,
            AuthSession.revoked_at.is_(None),
            AuthSession.expires_at > now,
        )
    )
    return (await db.scalars(statement)).one_or_none()


async def set_password_hash(db: AsyncSession, user: User, password_hash: str) -> None:
    user.password_hash = password_hash
    await db.flush()


async def lock(db: AsyncSession, user_id: uuid.UUID) -> User | None:
    """The user, locked until the transaction ends and read fresh, so that concurrent
    changes apply (and their events are stamped) one after the other."""
    statement = (
        select(User)
        .where(User.id == user_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await db.scalars(statement)).one_or_none()


async def delete_user(db: AsyncSession, user_id: uuid.UUID) -> None:
    """Delete the user; their sessions, refresh tokens and links go with them (ON DELETE
    CASCADE)."""
    await db.execute(delete(User).where(User.id == user_id))
    db.expunge_all()


ACCOUNT_TOKENS = AccountToken.metadata.tables[AccountToken.__tablename__]
"""The table itself, for the insert of every registration (a Core statement)."""


async def add_token(
    db: AsyncSession,
    *,
    user_id: uuid.UUID,
    purpose: TokenPurpose,
    digest: bytes,
    expires_at: datetime,
) -> None:
    await db.execute(
        insert(ACCOUNT_TOKENS).values(
            id=uuid.uuid4(),
            user_id=user_id,
            purpose=purpose,
            token_digest=digest,
            expires_at=expires_at,
        )
    )


async def void_tokens(
    db: AsyncSession, user_id: uuid.UUID, purpose: TokenPurpose, *, now: datetime
) -> None:
    """Mark the user's unused links of this purpose used: a newer link voids them."""
    await db.execute(
        update(AccountToken)
        .where(
            AccountToken.user_id == user_id,
            AccountToken.purpose == purpose,
            AccountToken.used_at.is_(None),
        )
        .values(used_at=now)
    )


async def use_token(
    db: AsyncSession, digest: bytes, purpose: TokenPurpose, *, now: datetime
) -> uuid.UUID | None:
    """Mark the link with this digest used, if it is unused and unexpired, and return its
    user; ``None`` otherwise. Atomic: of two concurrent uses, one wins."""
    statement = (
        update(AccountToken)
        .where(
            AccountToken.token_digest == digest,
            AccountToken.purpose == purpose,
            AccountToken.used_at.is_(None),
            AccountToken.expires_at > now,
        )
        .values(used_at=now)
        .returning(AccountToken.user_id)
    )
    return (await db.execute(statement)).scalar_one_or_none()


async def delete_expired_tokens(db: AsyncSession, *, expired_before: datetime, limit: int) -> int:
    """Delete up to ``limit`` links that expired before ``expired_before``."""
    expired = (
        select(AccountToken.id)
        .where(AccountToken.expires_at < expired_before)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    statement = delete(AccountToken).where(AccountToken.id.in_(expired))
    result = await db.execute(statement, execution_options={"synchronize_session": False})
    return int(getattr(result, "rowcount", 0) or 0)


async def delete_events_about(db: AsyncSession, outbox: Table, user_id: uuid.UUID) -> None:
    """Delete the outbox rows that name the user: every published one, and the pending ones
    but ``session.revoked`` (the other services still need those to refuse tokens)."""
    await db.execute(
        delete(outbox).where(
            outbox.c.payload["data"]["user_id"].astext == str(user_id),
            or_(
                outbox.c.published_at.is_not(None),
                outbox.c.event_type != EventType.SESSION_REVOKED.value,
            ),
        )
    )


LINK_EVENTS = (
    EventType.USER_REGISTERED.value,
    EventType.USER_VERIFICATION_REQUESTED.value,
    EventType.USER_PASSWORD_RESET_REQUESTED.value,
)
"""The events that carry a link's token in clear: the notifier needs it for the mail."""


async def delete_sent_link_events(db: AsyncSession, outbox: Table, *, limit: int) -> int:
    """Delete up to ``limit`` sent outbox rows that carry a link's token, so that the
    database keeps no usable token once the mail request is on its way."""
    sent = (
        select(outbox.c.id)
        .where(outbox.c.event_type.in_(LINK_EVENTS), outbox.c.published_at.is_not(None))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    result = await db.execute(delete(outbox).where(outbox.c.id.in_(sent)))
    return int(getattr(result, "rowcount", 0) or 0)
