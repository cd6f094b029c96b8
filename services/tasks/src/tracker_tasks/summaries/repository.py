import uuid
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, bindparam, column, func, select, true
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
    day: date | None,
) -> list[Row[Any]]:
    """Each user's open tasks (count and oldest titles), tasks completed in ``[start, end)``
    (count and titles in completion order) and, given the local ``day``, open tasks due on
    or before it (overdue) and due the next day (due today), in the order of ``user_ids``.

    ONE statement for the whole batch: the ids are unnested into rows, and each row's
    figures are correlated subqueries, each an index range scan of that one user's tasks
    (open ones by creation, done ones by completion, open dated ones by due date; both due
    counts come from one scan), so the work grows with the users' tasks in the answer, not
    with the table.
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
    figures: list[ColumnElement[Any]] = [
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
    ]
    if day is None:
        statement = select(*figures)
    else:
        today = day + timedelta(days=1)
        # ``due_date IS NOT NULL`` spelt out, so that the planner takes the partial index.
        dated = (*open_tasks, Task.due_date.is_not(None))
        due_order = (Task.due_date, Task.due_time.asc().nulls_last(), Task.id)
        counts = (
            select(
                func.count().filter(Task.due_date <= day).label("overdue_count"),
                func.count().filter(Task.due_date == today).label("due_today_count"),
            )
            .where(*dated, Task.due_date <= today)
            .lateral("due_counts")
        )
        statement = select(
            *figures,
            counts.c.overdue_count,
            _titles(
                select(Task.title).where(*dated, Task.due_date <= day).order_by(*due_order),
                titles,
            ).label("overdue_titles"),
            counts.c.due_today_count,
            _titles(
                select(Task.title).where(*dated, Task.due_date == today).order_by(*due_order),
                titles,
            ).label("due_today_titles"),
        ).select_from(users.join(counts, true()))
    return list((await db.execute(statement.order_by(users.c.position))).all())


def _titles(query: Select[Any], limit: int) -> ColumnElement[list[str]]:
    """``ARRAY(SELECT title ... LIMIT n)``: an empty array, never NULL, when none match."""
    return func.array(query.limit(limit).scalar_subquery(), type_=ARRAY(Task.title.type))
