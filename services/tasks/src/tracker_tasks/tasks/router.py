import re
import uuid
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response, status

from tracker_runtime.body import json_or_form, json_or_form_openapi
from tracker_runtime.errors import APIError
from tracker_runtime.web import SessionDep
from tracker_tasks.deps import ContextDep, UserDep
from tracker_tasks.tasks import service
from tracker_tasks.tasks.models import TaskStatus
from tracker_tasks.tasks.repository import TaskRow
from tracker_tasks.tasks.schemas import Cursor, ListSort, TaskCreate, TaskOut, TaskUpdate

router = APIRouter(prefix="/api/tasks", tags=["tasks"])

Responses = dict[int | str, dict[str, Any]]
NOT_LOGGED_IN: Responses = {401: {"description": "Not logged in, expired or logged out"}}
NOT_FOUND: Responses = {404: {"description": "No such task among the caller's"}}
INVALID: Responses = {422: {"description": "Invalid input"}}

MAX_BODY_BYTES = 128 * 1024
"""A title and a 10,000-character description fit even form-encoded with 4-byte characters
(12 bytes each as %XX%XX%XX%XX)."""
MAX_VERSION = 2**31 - 1
_STRONG_VERSION_TAG = re.compile(r'"(\d{1,10})"', re.ASCII)


def etag(task: TaskRow) -> str:
    return f'"{task.version}"'


def task_response(task: TaskRow, response: Response) -> TaskOut:
    response.headers["ETag"] = etag(task)
    return TaskOut.of(task)


def expected_versions(if_match: str | None) -> list[int] | None:
    """The versions an ``If-Match`` header accepts; ``None`` for any (no header, or ``*``).

    If-Match compares strongly (RFC 9110 §13.1.1), so weak or malformed tags match nothing
    and the update is refused with 412.
    """
    if if_match is None or if_match.strip() == "*":
        return None
    versions = []
    for tag in if_match.split(","):
        if match := _STRONG_VERSION_TAG.fullmatch(tag.strip()):
            version = int(match.group(1))
            if version <= MAX_VERSION:
                versions.append(version)
    return versions


async def task_id_of(
    task_id: Annotated[
        str, Path(description="The task's id (a UUID)", examples=[str(uuid.UUID(int=1))])
    ],
) -> uuid.UUID:
    """The id in the path; anything that is not a UUID names no task, hence 404."""
    try:
        return uuid.UUID(task_id)
    except ValueError as error:
        raise service.TaskNotFound() from error


TaskId = Annotated[uuid.UUID, Depends(task_id_of)]


def next_link(
    request: Request, cursor: Cursor, *, status: TaskStatus | None, sort: ListSort, limit: int
) -> str:
    """A relative reference, so that it is right behind the gateway as well as in front."""
    query = {"status": status.value} if status is not None else {}
    if sort is not ListSort.CREATED:
        query["sort"] = sort.value
    query |= {"limit": str(limit), "cursor": cursor.encode()}
    return f'<{request.url.path}?{urlencode(query)}>; rel="next"'


@router.get(
    "",
    summary="The caller's tasks",
    description="Open tasks newest-created first, then done tasks newest-completed first. "
    "With `sort=due`, the open tasks that have a due date come first, by due date and then "
    "due time (a day's untimed tasks after its timed ones), which puts the overdue ones at "
    "the top; then the open undated ones newest-created first; then the done ones. "
    'When more remain, the `Link` header carries the next page (`rel="next"`).',
    responses={**NOT_LOGGED_IN, **INVALID},
)
async def list_tasks(
    *,
    user: UserDep,
    db: SessionDep,
    ctx: ContextDep,
    request: Request,
    response: Response,
    task_status: Annotated[TaskStatus | None, Query(alias="status")] = None,
    limit: Annotated[int | None, Query(ge=1, description="Page size (default 50, max 200)")] = None,
    cursor: Annotated[str | None, Query(max_length=500, description="From a Link header")] = None,
    sort: Annotated[ListSort, Query(description="`created` (the default) or `due`")] = (
        ListSort.CREATED
    ),
) -> list[TaskOut]:
    page_size = ctx.settings.default_page_size if limit is None else limit
    if page_size > ctx.settings.max_page_size:
        message = f"The page size must be at most {ctx.settings.max_page_size}"
        raise APIError(422, message, errors=[{"field": "limit", "message": message}])
    try:
        after = Cursor.decode(cursor) if cursor is not None else None
    except ValueError as error:
        raise service.InvalidCursor() from error
    page = await service.list_tasks(
        db, user.id, status=task_status, limit=page_size, after=after, sort=sort
    )
    if page.next_cursor is not None:
        response.headers["Link"] = next_link(
            request, page.next_cursor, status=task_status, sort=sort, limit=page_size
        )
    return [TaskOut.of(task) for task in page.tasks]


@router.post(
    "",
    summary="Create a task",
    status_code=status.HTTP_201_CREATED,
    openapi_extra=json_or_form_openapi(TaskCreate),
    responses={**NOT_LOGGED_IN, **INVALID},
)
async def create_task(
    *,
    user: UserDep,
    new: Annotated[TaskCreate, Depends(json_or_form(TaskCreate, MAX_BODY_BYTES))],
    db: SessionDep,
    request: Request,
    response: Response,
) -> TaskOut:
    task = await service.create_task(db, user.id, new)
    response.headers["Location"] = f"{request.url.path}/{task.id}"
    return task_response(task, response)


@router.get("/{task_id}", summary="One task", responses={**NOT_LOGGED_IN, **NOT_FOUND})
async def get_task(user: UserDep, task_id: TaskId, db: SessionDep, response: Response) -> TaskOut:
    return task_response(await service.get_task(db, user.id, task_id), response)


@router.patch(
    "/{task_id}",
    summary="Change a task",
    description="Any of `title`, `description`, `status`, `due_date`, `due_time`, "
    "`reminder_at` (null clears the last three). With `If-Match` (the task's ETag), "
    "the change applies only if nobody changed the task since; otherwise 412.",
    openapi_extra=json_or_form_openapi(TaskUpdate),
    responses={
        **NOT_LOGGED_IN,
        **NOT_FOUND,
        412: {"description": "The task changed since the ETag in If-Match"},
        **INVALID,
    },
)
async def update_task(
    *,
    user: UserDep,
    task_id: TaskId,
    change: Annotated[TaskUpdate, Depends(json_or_form(TaskUpdate, MAX_BODY_BYTES))],
    db: SessionDep,
    response: Response,
    if_match: Annotated[str | None, Header(description='The ETag, e.g. "3", or *')] = None,
) -> TaskOut:
    task = await service.update_task(
        db, user.id, task_id, change, expected_versions=expected_versions(if_match)
    )
    return task_response(task, response)


@router.delete(
    "/{task_id}",
    summary="Delete a task",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**NOT_LOGGED_IN, **NOT_FOUND},
)
async def delete_task(user: UserDep, task_id: TaskId, db: SessionDep) -> Response:
    await service.delete_task(db, user.id, task_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
