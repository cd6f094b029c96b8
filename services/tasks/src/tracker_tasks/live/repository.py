"""The change feed's SQL."""

import uuid
from datetime import datetime
from typing import cast

from sqlalchemy import Table, Text, Uuid, bindparam, delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import ReturningInsert

from tracker_contracts import EventType
from tracker_tasks.live.models import ChangeFeedHead, TaskChange

HEADS = cast("Table", ChangeFeedHead.__table__)
CHANGES = cast("Table", TaskChange.__table__)


def _append_statement() -> ReturningInsert[int]:
    """Core, not ORM: an ORM insert given its values as parameters is a bulk insert."""
    head = (
        insert(HEADS)
        .values(owner_id=bindparam("the_owner"), position=1)
        .on_conflict_do_update(
            index_elements=[HEADS.c.owner_id], set_={"position": HEADS.c.position + 1}
        )
        .returning(HEADS.c.position)
        .cte("head")
    )
    return (
        insert(CHANGES)
        .from_select(
            ["owner_id", "position", "event_type", "data"],
            select(
                bindparam("the_owner", type_=Uuid()),
                head.c.position,
                bindparam("the_type", type_=Text()),
                bindparam("the_data", type_=Text()),
            ),
        )
        .returning(CHANGES.c.position)
    )


APPEND = _append_statement()
"""Built once: its values are parameters (``the_owner``, ``the_type``, ``the_data``)."""


async def append(db: AsyncSession, owner_id: uuid.UUID, event_type: EventType, data: str) -> int:
    """Store a change as the owner's next position, in one statement; return the position.
    The head row stays locked until the transaction ends."""
    parameters = {"the_owner": owner_id, "the_type": event_type.value, "the_data": data}
    position: int = (await db.execute(APPEND, parameters)).scalar_one()
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
