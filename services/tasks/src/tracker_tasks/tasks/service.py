"""Tasks: a person's list, changed only by its owner; completing one announces it."""

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from tracker_contracts import TaskCompleted
from tracker_runtime.errors import APIError
from tracker_runtime.outbox import add_event
from tracker_tasks.db import outbox
from tracker_tasks.tasks import repository
from tracker_tasks.tasks.models import Task, TaskStatus
from tracker_tasks.tasks.schemas import Cursor, TaskCreate, TaskUpdate

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
    tasks: list[Task]
    next_cursor: Cursor | None


async def list_tasks(
    db: AsyncSession,
    owner_id: uuid.UUID,
    *,
    status: TaskStatus | None,
    limit: int,
    after: Cursor | None,
) -> Page:
    """One page of the owner's tasks: open ones newest-created first, done ones
    newest-completed first, each segment read through its own index with a keyset."""
    segments = list(LIST_ORDER) if status is None else [status]
    if after is not None:
        if after.status not in segments:
            raise InvalidCursor()
        segments = segments[segments.index(after.status) :]
    found: list[Task] = []
    for segment in segments:
        # One more than needed tells whether another page follows.
        wanted = limit + 1 - len(found)
        start = after if after is not None and after.status is segment else None
        found += await repository.page_of(db, owner_id, segment, after=start, limit=wanted)
        if len(found) > limit:
            break
    if len(found) <= limit:
        return Page(found, None)
    last = found[limit - 1]
    sort_time = last.created_at if last.status is TaskStatus.OPEN else last.completed_at
    assert sort_time is not None  # done tasks always have a completion time
    return Page(found[:limit], Cursor(status=last.status, at=sort_time, id=last.id))


async def create_task(db: AsyncSession, owner_id: uuid.UUID, new: TaskCreate) -> Task:
    return await repository.add(db, owner_id, title=new.title, description=new.description)


async def get_task(db: AsyncSession, owner_id: uuid.UUID, task_id: uuid.UUID) -> Task:
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
) -> Task:
    """Apply ``change`` if the task is still at one of ``expected_versions`` (``None``: any).

    Completing an open task stamps ``completed_at`` and stores ``task.completed`` in the
    outbox in the same transaction; reopening clears the stamp; completing a done task
    changes nothing about its completion and announces nothing.
    """
    outcome = await repository.update_if_current(
        db,
        owner_id,
        task_id,
        changes=change.model_dump(exclude_unset=True),
        expected_versions=expected_versions,
    )
    if outcome.previous_status is None:
        raise TaskNotFound()
    task = outcome.task
    if task is None:
        assert outcome.current_version is not None
        raise TaskChanged(outcome.current_version)
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
    return task


async def delete_task(db: AsyncSession, owner_id: uuid.UUID, task_id: uuid.UUID) -> None:
    if not await repository.remove(db, owner_id, task_id):
        raise TaskNotFound()
