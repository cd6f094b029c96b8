import uuid
from datetime import datetime

from sqlalchemy import ColumnElement, Row, Select, bindparam, column, func, select
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.ext.asyncio import AsyncSession

from tracker_tasks.tasks.models import Task, TaskStatus
from tracker_tasks.tasks.repository import has_status


async def summaries(
    db: AsyncSession,
    user_ids: list[uuid.UUID],
    *,
    start: datetime,
    end: datetime,
    titles: int,
) -> list[Row[uuid.UUID, int, list[str], int, list[str]]]:
    """Each user's open tasks (count and oldest titles) and tasks completed in
    ``[start, end)`` (count and titles in completion order), in the order of ``user_ids``.

    ONE statement for the whole batch: the ids are unnested into rows, and each row's four
    figures are correlated subqueries, each an index range scan of that one user's tasks
    (open ones by creation, done ones by completion), so the work grows with the users'
    tasks in the answer, not with the table.
    """
    users = (
        func.unnest(bindparam("user_ids", user_ids, type_=ARRAY(UUID(as_uuid=True))))
        .table_valued(column("user_id", UUID(as_uuid=True)), with_ordinality="position")
        .render_derived(name="requested")
    )
    mine = Task.owner_id == users.c.user_id
    open_tasks = (mine, has_status(TaskStatus.OPEN))
    done_in_window = (
        mine,
        has_status(TaskStatus.DONE),
        Task.completed_at >= start,
        Task.completed_at < end,
    )

    statement = select(
        users.c.user_id,
        select(func.count()).where(*open_tasks).scalar_subquery().label("open_count"),
        _titles(
            select(Task.title).where(*open_tasks).order_by(Task.created_at, Task.id), titles
        ).label("open_titles"),
        select(func.count()).where(*done_in_window).scalar_subquery().label("completed_count"),
        _titles(
            select(Task.title).where(*done_in_window).order_by(Task.completed_at, Task.id),
            titles,
        ).label("completed_titles"),
    ).order_by(users.c.position)
    return list((await db.execute(statement)).all())


def _titles(query: Select[str], limit: int) -> ColumnElement[list[str]]:
    """``ARRAY(SELECT title ... LIMIT n)``: an empty array, never NULL, when none match."""
    return func.array(query.limit(limit).scalar_subquery(), type_=ARRAY(Task.title.type))
