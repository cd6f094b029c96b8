import uuid
from datetime import datetime

from sqlalchemy import delete, exists, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from tracker_tasks.revocations.models import RevokedSession


async def is_revoked(db: AsyncSession, session_id: uuid.UUID) -> bool:
    statement = select(exists().where(RevokedSession.session_id == session_id))
    return bool(await db.scalar(statement))


async def all_revoked(db: AsyncSession) -> dict[uuid.UUID, datetime]:
    """Every remembered session, with the instant its last access token expires."""
    rows = await db.execute(select(RevokedSession.session_id, RevokedSession.expires_at))
    return {row.session_id: row.expires_at for row in rows}


async def add(db: AsyncSession, session_id: uuid.UUID, expires_at: datetime) -> None:
    """Remember a revoked session; a redelivered event changes nothing."""
    statement = (
        insert(RevokedSession)
        .values(session_id=session_id, expires_at=expires_at)
        .on_conflict_do_nothing(index_elements=[RevokedSession.session_id])
    )
    await db.execute(statement)


async def delete_expired(db: AsyncSession, before: datetime) -> int:
    """Forget sessions whose access tokens all expired before ``before``."""
    statement = (
        delete(RevokedSession)
        .where(RevokedSession.expires_at < before)
        .returning(RevokedSession.session_id)
    )
    return len((await db.execute(statement)).all())


async def revoked_among(db: AsyncSession, session_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """Which of ``session_ids`` have been revoked."""
    statement = select(RevokedSession.session_id).where(RevokedSession.session_id.in_(session_ids))
    return set((await db.scalars(statement)).all())
