import uuid
from datetime import datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tracker_auth.sessions.models import AuthSession, RefreshToken
from tracker_auth.users.models import User


async def add_session(db: AsyncSession, *, user_id: uuid.UUID, expires_at: datetime) -> AuthSession:
    session = AuthSession(id=uuid.uuid4(), user_id=user_id, expires_at=expires_at)
    db.add(session)
    await db.flush()
    return session


async def add_refresh_token(
    db: AsyncSession, *, session_id: uuid.UUID, digest: bytes, expires_at: datetime
) -> None:
    db.add(RefreshToken(session_id=session_id, token_hash=digest, expires_at=expires_at))
    await db.flush()


async def refresh_token_for_update(
    db: AsyncSession, digest: bytes
) -> tuple[RefreshToken, AuthSession, User] | None:
    """The token with this digest, its session and user; the token and session stay locked
    until the transaction ends, so that two concurrent presentations of one token are
    handled one after the other."""
    statement = (
        select(RefreshToken, AuthSession, User)
        .join(AuthSession, AuthSession.id == RefreshToken.session_id)
        .join(User, User.id == AuthSession.user_id)
        .where(RefreshToken.token_hash == digest)
        .with_for_update(of=(RefreshToken, AuthSession))
    )
    row = (await db.execute(statement)).one_or_none()
    return (row[0], row[1], row[2]) if row else None


async def session_by_refresh_digest(db: AsyncSession, digest: bytes) -> AuthSession | None:
    statement = (
        select(AuthSession)
        .join(RefreshToken, RefreshToken.session_id == AuthSession.id)
        .where(RefreshToken.token_hash == digest)
    )
    return (await db.scalars(statement)).one_or_none()


async def revoke_session(
    db: AsyncSession, session_id: uuid.UUID, *, reason: str, now: datetime
) -> AuthSession | None:
    """Mark a live session revoked; ``None`` when it was revoked already (or is unknown)."""
    statement = (
        update(AuthSession)
        .where(AuthSession.id == session_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason=reason)
        .returning(AuthSession)
    )
    return (await db.scalars(statement)).one_or_none()


async def live_session_ids(
    db: AsyncSession, user_id: uuid.UUID, *, now: datetime
) -> list[uuid.UUID]:
    """The user's sessions that are neither revoked nor over, locked until the transaction
    ends (a concurrent refresh of one of them waits, then finds it revoked)."""
    statement = (
        select(AuthSession.id)
        .where(
            AuthSession.user_id == user_id,
            AuthSession.revoked_at.is_(None),
            AuthSession.expires_at > now,
        )
        .order_by(AuthSession.id)
        .with_for_update()
    )
    return list(await db.scalars(statement))


async def delete_ended_sessions(db: AsyncSession, *, ended_before: datetime, limit: int) -> int:
    """Delete up to ``limit`` sessions that expired, and were revoked if at all, before
    ``ended_before``; their refresh tokens go with them (ON DELETE CASCADE). Rows another
    replica is deleting are skipped, not waited for."""
    ended = (
        select(AuthSession.id)
        .where(
            AuthSession.expires_at < ended_before,
            or_(AuthSession.revoked_at.is_(None), AuthSession.revoked_at < ended_before),
        )
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    statement = delete(AuthSession).where(AuthSession.id.in_(ended))
    result = await db.execute(statement, execution_options={"synchronize_session": False})
    return int(getattr(result, "rowcount", 0) or 0)
