import functools
import uuid
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    Table,
    and_,
    bindparam,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    true,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import KeyedColumnElement

from tracker_tasks.db import outbox
from tracker_tasks.tasks.models import Task, TaskStatus
from tracker_tasks.tasks.schemas import Cursor

tasks = cast("Table", Task.__table__)

TaskRow = Row[Any]
"""A task as a row of the table, its columns as attributes. The list reads rows rather
than ORM objects: a page of 50 costs a fraction of what loading as many objects does."""


def has_status(status: TaskStatus) -> ColumnElement[bool]:
    """``status = 'done'`` with the value inline rather than a bind parameter: the planner
    matches the partial index on done tasks only against a literal, and asyncpg's prepared
    statements would otherwise get generic plans that cannot use it."""
    return tasks.c.status == literal(status, tasks.c.status.type, literal_execute=True)


def sort_column(status: TaskStatus) -> KeyedColumnElement[Any]:
    """What a segment of the list is ordered by: open tasks by creation, done tasks by
    completion."""
    return tasks.c.created_at if status is TaskStatus.OPEN else tasks.c.completed_at


async def page_of(
    db: AsyncSession,
    owner_id: uuid.UUID,
    status: TaskStatus,
    *,
    after: Cursor | None,
    limit: int,
    undated_only: bool = False,
) -> list[TaskRow]:
    """Up to ``limit`` of the owner's tasks with ``status`` (only those without a due date
    if ``undated_only``), newest first, after ``after``."""
    column, c = sort_column(status), tasks.c
    statement = select(*c).where(c.owner_id == owner_id, has_status(status))
    if undated_only:
        statement = statement.where(c.due_date.is_(None))
    if after is not None:
        assert after.at is not None  # a cursor of a segment sorted by time
        statement = statement.where(tuple_(column, c.id) < tuple_(after.at, after.id))
    statement = statement.order_by(column.desc(), c.id.desc()).limit(limit)
    return list((await db.execute(statement)).all())


async def due_page_of(
    db: AsyncSession, owner_id: uuid.UUID, *, after: Cursor | None, limit: int
) -> list[TaskRow]:
    """Up to ``limit`` of the owner's open dated tasks after ``after``, by due date, then due
    time with a day's untimed tasks after its timed ones (ascending order puts NULLs last,
    as the index ``ix_tasks_owner_open_due`` stores them), then id."""
    c = tasks.c
    statement = select(*c).where(
        c.owner_id == owner_id, has_status(TaskStatus.OPEN), c.due_date.is_not(None)
    )
    if after is not None:
        assert after.due_date is not None
        # A row comparison cannot skip past NULL due times, so the keyset is spelt out.
        if after.due_time is None:
            later_same_day = and_(c.due_time.is_(None), c.id > after.id)
        else:
            later_same_day = or_(
                c.due_time > after.due_time,
                c.due_time.is_(None),
                and_(c.due_time == after.due_time, c.id > after.id),
            )
        statement = statement.where(
            c.due_date >= after.due_date,
            or_(c.due_date > after.due_date, later_same_day),
        )
    statement = statement.order_by(c.due_date, c.due_time.asc().nulls_last(), c.id).limit(limit)
    return list((await db.execute(statement)).all())


INSERT = insert(tasks).returning(*tasks.c)


async def add(db: AsyncSession, owner_id: uuid.UUID, fields: dict[str, Any]) -> TaskRow:
    """A new task of ``owner_id`` with ``fields`` (title, description, due fields)."""
    values = {"id": uuid.uuid4(), "owner_id": owner_id, **fields}
    return (await db.execute(INSERT, values)).one()


async def owned(db: AsyncSession, owner_id: uuid.UUID, task_id: uuid.UUID) -> TaskRow | None:
    statement = select(*tasks.c).where(tasks.c.id == task_id, tasks.c.owner_id == owner_id)
    return (await db.execute(statement)).one_or_none()


async def remove(db: AsyncSession, owner_id: uuid.UUID, task_id: uuid.UUID) -> bool:
    statement = delete(Task).where(Task.id == task_id, Task.owner_id == owner_id).returning(Task.id)
    return (await db.execute(statement)).first() is not None


@dataclass(frozen=True, slots=True)
class UpdateOutcome:
    """What one conditional update found: no such task of this owner (``previous_status``
    is ``None``), a version mismatch (``task`` is ``None``), or the updated ``task``."""

    previous_status: TaskStatus | None
    current_version: int | None
    task: TaskRow | None


@functools.lru_cache(maxsize=128)
def _update_statement(
    fields: tuple[str, ...], *, completing: bool | None, conditional: bool
) -> Select[Any]:
    """The statement of :func:`update_if_current` for changes of ``fields``, its values as
    parameters (``new_<field>``, ``the_task``, ``the_owner``, ``versions``: no column's name,
    which an UPDATE would take as a value to set): built once for each shape of change (a
    few dozen at most), not on every request.

    The ``current`` CTE locks the row and reads its newest state, so the status it reports is
    the one this update replaced even when another request changed the task a moment before:
    of two concurrent completions only one sees "open" and writes the event, and of two
    updates expecting the same version only one matches.
    """
    current = (
        select(tasks.c.id, tasks.c.status, tasks.c.version)
        .where(tasks.c.id == bindparam("the_task"), tasks.c.owner_id == bindparam("the_owner"))
        .with_for_update()
        .cte("current")
    )
    values: dict[str, Any] = {field: bindparam(f"new_{field}") for field in fields}
    values |= {"version": tasks.c.version + 1, "updated_at": func.now()}
    if completing is not None:
        # Completing keeps the first completion time (done→done changes nothing); reopening
        # forgets it.
        values["completed_at"] = (
            func.coalesce(tasks.c.completed_at, func.now()) if completing else None
        )
    updated = update(tasks).where(tasks.c.id == current.c.id)
    if conditional:
        updated = updated.where(tasks.c.version.in_(bindparam("versions", expanding=True)))
    updated_rows = updated.values(values).returning(*tasks.c).cte("updated")
    return select(
        current.c.status.label("previous_status"),
        current.c.version.label("current_version"),
        *updated_rows.c,
    ).select_from(current.outerjoin(updated_rows, true()))


async def update_if_current(
    db: AsyncSession,
    owner_id: uuid.UUID,
    task_id: uuid.UUID,
    *,
    changes: dict[str, Any],
    expected_versions: list[int] | None,
) -> UpdateOutcome:
    """Apply ``changes`` to the owner's task if its version is one of ``expected_versions``
    (any version when ``None``), in one statement that also tells what it found
    (:func:`_update_statement`)."""
    completing = None if "status" not in changes else changes["status"] is TaskStatus.DONE
    statement = _update_statement(
        tuple(sorted(changes)), completing=completing, conditional=expected_versions is not None
    )
    parameters = {f"new_{field}": value for field, value in changes.items()}
    parameters |= {"the_task": task_id, "the_owner": owner_id, "versions": expected_versions}
    row = (await db.execute(statement, parameters)).one_or_none()
    if row is None:
        return UpdateOutcome(previous_status=None, current_version=None, task=None)
    return UpdateOutcome(
        previous_status=TaskStatus(row.previous_status),
        current_version=row.current_version,
        # The row holds the updated task's columns under their names, when it was updated.
        task=row if row.id is not None else None,
    )


async def delete_of_owner(db: AsyncSession, owner_id: uuid.UUID) -> int:
    """Delete every task of ``owner_id``; how many there were."""
    result = await db.execute(
        delete(Task).where(Task.owner_id == owner_id).returning(Task.id),
        execution_options={"synchronize_session": False},
    )
    return len(result.all())


async def delete_events_about(db: AsyncSession, user_id: uuid.UUID) -> int:
    """Delete the outbox rows of events about ``user_id``, published or not."""
    result = await db.execute(
        delete(outbox)
        .where(outbox.c.payload["data"]["user_id"].astext == str(user_id))
        .returning(outbox.c.id)
    )
    return len(result.all())
