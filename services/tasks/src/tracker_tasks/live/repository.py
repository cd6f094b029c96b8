"""The change feed's SQL."""

import uuid
from datetime import datetime

from sqlalchemy import Text, delete, literal, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from tracker_contracts import EventType
from tracker_tasks.live.models import ChangeFeedHead, TaskChange


async def append(db: AsyncSession, owner_id: uuid.UUID, event_type: EventType, data: str) -> int:
    """Store a change as the owner's next position, in one statement; return the position.
    The head row stays locked until the transaction ends."""
    head = (
        insert(ChangeFeedHead)
        .values(owner_id=owner_id, position=1)
        .on_conflict_do_update(
            index_elements=[ChangeFeedHead.owner_id],
            set_={"position": ChangeFeedHead.position + 1},
        )
        .returning(ChangeFeedHead.position)
        .cte("head")
    )
    statement = (
        insert(TaskChange)
        .from_select(
            ["owner_id", "position", "event_type", "data"],
            select(
                literal(owner_id), head.c.position, literal(event_type.value), literal(data, Text)
            ),
        )
        .returning(TaskChange.position)
    )
    position: int = (await db.execute(statement)).scalar_one()
    return position


async def head_of(db: AsyncSession, owner_id: uuid.UUID) -> int:
    """The owner's latest position (0 before their first change)."""
    position = await db.scalar(
        select(ChangeFeedHead.position).where(ChangeFeedHead.owner_id == owner_id)
    )
    return position or 0


async def changes_after(
    db: AsyncSession, owner_id: uuid.UUID, position: int, *, limit: int
) -> list[TaskChange]:
    """The owner's kept changes after ``position``, oldest first, at most ``limit``."""
    statement = (
        select(TaskChange)
        .where(TaskChange.owner_id == owner_id, TaskChange.position > position)
        .order_by(TaskChange.position)
        .limit(limit)
    )
    return list((await db.scalars(statement)).all())


async def delete_older_than(db: AsyncSession, before: datetime) -> int:
    statement = delete(TaskChange).where(TaskChange.created_at < before)
    result = await db.execute(statement)
    return int(getattr(result, "rowcount", 0) or 0)


async def delete_of_owner(db: AsyncSession, owner_id: uuid.UUID) -> int:
    """Forget a person's feed (their account was deleted)."""
    result = await db.execute(delete(TaskChange).where(TaskChange.owner_id == owner_id))
    await db.execute(delete(ChangeFeedHead).where(ChangeFeedHead.owner_id == owner_id))
    return int(getattr(result, "rowcount", 0) or 0)
