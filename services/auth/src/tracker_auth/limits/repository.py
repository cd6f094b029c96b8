from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import case, delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from tracker_auth.limits.models import RateLimit


async def count_hits(
    db: AsyncSession, keys: dict[str, timedelta], *, now: datetime
) -> list[RateLimit]:
    """Add one hit to each key, starting a new window where the old one (of the key's own
    length) has ended, and return the counts. The rows stay locked until the transaction
    ends; keys are locked in sorted order, so two callers never deadlock."""
    ordered = sorted(keys)
    new_rows = insert(RateLimit).values(
        [{"key": key, "hits": 1, "window_started_at": now} for key in ordered]
    )
    window_of = case({key: now - keys[key] for key in ordered}, value=RateLimit.key, else_=now)
    expired = RateLimit.window_started_at <= window_of
    statement = new_rows.on_conflict_do_update(
        index_elements=[RateLimit.key],
        set_={
            "hits": case((expired, 1), else_=RateLimit.hits + 1),
            "window_started_at": case((expired, now), else_=RateLimit.window_started_at),
        },
    ).returning(RateLimit)
    rows = await db.scalars(statement, execution_options={"populate_existing": True})
    return list(rows)


async def take_back_hit(db: AsyncSession, key: str, *, window_started_at: datetime) -> None:
    """Undo one hit of a window that is still the current one."""
    await db.execute(
        update(RateLimit)
        .where(
            RateLimit.key == key,
            RateLimit.window_started_at == window_started_at,
            RateLimit.hits > 0,
        )
        .values(hits=RateLimit.hits - 1)
    )


async def forget(db: AsyncSession, keys: Iterable[str]) -> None:
    await db.execute(delete(RateLimit).where(RateLimit.key.in_(list(keys))))


async def delete_ended(db: AsyncSession, *, started_before: datetime, limit: int) -> int:
    """Delete up to ``limit`` counts whose window started before ``started_before``
    (an ended window counts nothing: the next hit starts a new one)."""
    ended = (
        select(RateLimit.key)
        .where(RateLimit.window_started_at <= started_before)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    statement = delete(RateLimit).where(RateLimit.key.in_(ended))
    result = await db.execute(statement, execution_options={"synchronize_session": False})
    return int(getattr(result, "rowcount", 0) or 0)
