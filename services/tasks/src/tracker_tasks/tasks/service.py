"""Tasks: a person's list, changed only by its owner; completing one announces it."""

import json
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tracker_contracts import EventType, TaskCompleted, TaskCreated, TaskDeleted, TaskUpdated
from tracker_runtime.errors import APIError
from tracker_runtime.outbox import add_event
from tracker_tasks.db import outbox
from tracker_tasks.live import repository as feed
from tracker_tasks.tasks import repository
from tracker_tasks.tasks.models import TaskStatus
from tracker_tasks.tasks.repository import TaskRow
from tracker_tasks.tasks.schemas import Cursor, ListSort, TaskCreate, TaskOut, TaskUpdate

TIME_NEEDS_DATE = "ck_tasks_due_time_needs_date"
LIST_ORDER = (TaskStatus.OPEN, TaskStatus.DONE)
"""Without a status filter the list shows the open tasks first, then the done ones."""


class TaskNotFound(APIError):
    """Also the answer for another person's task: whether it exists is none of the caller's
    business, so it is never a 403."""

    def __init__(self) -> None:
        super().__init__(404, "Task not found")


class TaskChanged(APIError):
    def __init__(self, current_version: int) -> None:
        super().__init__(
            412,
            "The task was changed since you read it; load it again and reapply your change",
            headers={"ETag": f'"{current_version}"'},
        )


class InvalidCursor(APIError):
    def __init__(self) -> None:
        message = "This cursor does not belong to this list; start again without it"
        super().__init__(422, message, errors=[{"field": "cursor", "message": message}])


@dataclass(frozen=True, slots=True)
class Page:
    tasks: list[TaskRow]
    next_cursor: Cursor | None


Segment = tuple[TaskStatus, bool]
"""A part of the list: a status, and whether it holds only dated open tasks (``sort=due``)."""


def segments_of(status: TaskStatus | None, sort: ListSort) -> list[Segment]:
    statuses = list(LIST_ORDER) if status is None else [status]
    segments: list[Segment] = []
    for each in statuses:
        if each is TaskStatus.OPEN and sort is ListSort.DUE:
            segments.append((each, True))
        segments.append((each, False))
    return segments


async def list_tasks(
    db: AsyncSession,
    owner_id: uuid.UUID,
    *,
    status: TaskStatus | None,
    limit: int,
    after: Cursor | None,
    sort: ListSort = ListSort.CREATED,
) -> Page:
    """One page of the owner's tasks: open ones newest-created first (with ``sort=due``,
    the dated ones first by due date and time, so overdue ones lead), then done ones
    newest-completed first; each segment is read through its own index with a keyset."""
    segments = segments_of(status, sort)
    if after is not None:
        current = (after.status, after.dated)
        if current not in segments:
            raise InvalidCursor()
        segments = segments[segments.index(current) :]
    found: list[TaskRow] = []
    for segment in segments:
        segment_status, dated = segment
        # One more than needed tells whether another page follows.
        wanted = limit + 1 - len(found)
        start = after if after is not None and (after.status, after.dated) == segment else None
        if dated:
            found += await repository.due_page_of(db, owner_id, after=start, limit=wanted)
        else:
            found += await repository.page_of(
                db,
                owner_id,
                segment_status,
                after=start,
                limit=wanted,
                undated_only=sort is ListSort.DUE and segment_status is TaskStatus.OPEN,
            )
        if len(found) > limit:
            break
    if len(found) <= limit:
        return Page(found, None)
    return Page(found[:limit], cursor_after(found[limit - 1], sort))


def cursor_after(last: TaskRow, sort: ListSort) -> Cursor:
    if last.status is TaskStatus.OPEN:
        if sort is ListSort.DUE and last.due_date is not None:
            return Cursor(
                status=last.status, due_date=last.due_date, due_time=last.due_time, id=last.id
            )
        return Cursor(status=last.status, at=last.created_at, id=last.id)
    assert last.completed_at is not None  # done tasks always have a completion time
    return Cursor(status=last.status, at=last.completed_at, id=last.id)


async def create_task(db: AsyncSession, owner_id: uuid.UUID, new: TaskCreate) -> TaskRow:
    """Store the task, its ``task.created`` event and its place in the owner's change feed
    in one transaction. The place in the feed comes last in each change, here and below:
    it locks the owner's feed head until the commit, and the shorter that lock is held,
    the more of one person's changes (several tabs, several devices) go through at once."""
    try:
        task = await repository.add(db, owner_id, new.model_dump())
    except IntegrityError as error:
        raise _refused(error, new.model_dump(exclude_unset=True)) from error
    await add_event(db, outbox, task_event(TaskCreated, task))
    await feed.append(db, owner_id, EventType.TASK_CREATED, task_json(task))
    return task


async def get_task(db: AsyncSession, owner_id: uuid.UUID, task_id: uuid.UUID) -> TaskRow:
    task = await repository.owned(db, owner_id, task_id)
    if task is None:
        raise TaskNotFound()
    return task


async def update_task(
    db: AsyncSession,
    owner_id: uuid.UUID,
    task_id: uuid.UUID,
    change: TaskUpdate,
    *,
    expected_versions: list[int] | None,
) -> TaskRow:
    """Apply ``change`` if the task is still at one of ``expected_versions`` (``None``: any).

    Every change stores ``task.updated`` (the whole task as it now is) in the outbox and in
    the owner's change feed in the same transaction. Completing an open task also stamps
    ``completed_at`` and stores ``task.completed``; reopening clears the stamp; completing a
    done task changes nothing about its completion and announces no completion.
    """
    changes = change.model_dump(exclude_unset=True)
    try:
        outcome = await repository.update_if_current(
            db, owner_id, task_id, changes=changes, expected_versions=expected_versions
        )
    except IntegrityError as error:
        raise _refused(error, changes) from error
    if outcome.previous_status is None:
        raise TaskNotFound()
    task = outcome.task
    if task is None:
        assert outcome.current_version is not None
        raise TaskChanged(outcome.current_version)
    await add_event(db, outbox, task_event(TaskUpdated, task))
    if outcome.previous_status is TaskStatus.OPEN and task.status is TaskStatus.DONE:
        assert task.completed_at is not None
        await add_event(
            db,
            outbox,
            TaskCompleted(
                task_id=task.id,
                user_id=task.owner_id,
                title=task.title,
                completed_at=task.completed_at,
            ),
        )
    await feed.append(db, owner_id, EventType.TASK_UPDATED, task_json(task))
    return task


async def delete_task(db: AsyncSession, owner_id: uuid.UUID, task_id: uuid.UUID) -> None:
    """Delete the task and store its ``task.deleted`` event and change in one transaction."""
    if not await repository.remove(db, owner_id, task_id):
        raise TaskNotFound()
    await add_event(db, outbox, TaskDeleted(task_id=task_id, user_id=owner_id))
    deleted = json.dumps({"id": str(task_id)}, separators=(",", ":"))
    await feed.append(db, owner_id, EventType.TASK_DELETED, deleted)


def task_json(task: TaskRow) -> str:
    """The task exactly as the API answers with it (the live stream's data)."""
    return TaskOut.of(task).model_dump_json()


def task_event(kind: type[TaskCreated], task: TaskRow) -> TaskCreated:
    """The whole task as ``kind`` (``task.created`` or ``task.updated``) carries it."""
    return kind(
        task_id=task.id,
        user_id=task.owner_id,
        title=task.title,
        description=task.description,
        status=task.status.value,
        completed_at=task.completed_at,
        created_at=task.created_at,
        updated_at=task.updated_at,
        version=task.version,
        due_date=task.due_date,
        due_time=None if task.due_time is None else task.due_time.strftime("%H:%M"),
        reminder_at=task.reminder_at,
    )


def _refused(error: IntegrityError, fields: dict[str, Any]) -> Exception:
    """A 422 for a change the table's checks refused: a due time left without a due date,
    named after the field that made it so (a date cleared while the time stays, or a time
    set without a date). Anything else is not the caller's doing and goes on as it was."""
    if TIME_NEEDS_DATE not in str(error.orig):
        return error
    field = "due_date" if "due_date" in fields and fields["due_date"] is None else "due_time"
    message = "A due time needs a due date: set due_date too, or clear due_time as well"
    return APIError(422, f"{field}: {message}", errors=[{"field": field, "message": message}])
