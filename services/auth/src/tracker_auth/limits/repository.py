from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from tracker_auth.limits.models import RateLimit


@dataclass(frozen=True, slots=True)
class Count:
    """A key's hits in its current window."""

    key: str
    hits: int
    window_started_at: datetime


RATE_LIMITS = RateLimit.metadata.tables[RateLimit.__tablename__]
"""The table itself: counting is a hot path (every registration, login, mail request), and
a Core statement skips the ORM's bookkeeping, which costs more than the statement here."""


async def count_hits(db: AsyncSession, keys: dict[str, timedelta], *, now: datetime) -> list[Count]:
    """Add one hit to each key, starting a new window where the old one (of the key's own
    length) has ended, and return the counts. The rows stay locked until the transaction
    ends; keys are locked in sorted order, so two callers never deadlock."""
    ordered = sorted(keys)
    table = RATE_LIMITS.c
    new_rows = insert(RATE_LIMITS).values(
        [{"key": key, "hits": 1, "window_started_at": now} for key in ordered]
    )
    window_of = case({key: now - keys[key] for key in ordered}, value=table.key, else_=now)
    expired = table.window_started_at <= window_of
    statement = new_rows.on_conflict_do_update(
        index_elements=[table.key],
        set_={
            "hits": case((expired, 1), else_=table.hits + 1),
            "window_started_at": case((expired, now), else_=table.window_started_at),
        },
    ).returning(table.key, table.hits, table.window_started_at)
    result = await db.execute(statement)
    return [Count(*row) for row in result]


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
