import uuid
from datetime import datetime

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from tracker_auth.sessions.models import AuthSession
from tracker_auth.users.models import User


async def insert_unless_taken(
    db: AsyncSession, *, email: str, password_hash: str, timezone: str
) -> User | None:
    """Insert a user; ``None`` when the email is taken (case-insensitively)."""
    statement = (
        insert(User)
        .values(id=uuid.uuid4(), email=email, password_hash=password_hash, timezone=timezone)
        .on_conflict_do_nothing(index_elements=[text("lower(email)")])
        .returning(User)
    )
    return (await db.scalars(statement)).one_or_none()


async def by_email(db: AsyncSession, email: str) -> User | None:
    statement = select(User).where(func.lower(User.email) == email.lower())
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
