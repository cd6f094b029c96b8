"""The limit of this stack for the tasks API: the same list and create, written as plainly
as it can be (Starlette, one asyncpg pool, hand-written SQL), run under the same uvicorn.

``GET /bare/tasks?owner=<uuid>`` answers the owner's 50 newest open tasks as JSON;
``POST /bare/tasks?owner=<uuid>`` with ``{"title": ...}`` inserts a task and its outbox
row (marked published) in one transaction and answers the task; ``PATCH
/bare/tasks/<id>?owner=<uuid>`` with ``{"title": ...}`` renames the owner's task, a new
version, and stores its outbox row the same way. No authentication, no
validation beyond the JSON: what the service does beyond this is what the ratio prices.
"""

import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, time
from typing import Any

import asyncpg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

DATABASE_URL_VARIABLE = "BENCH_BARE_DATABASE_URL"
COLUMNS = (
    "id, owner_id, title, description, status, completed_at, created_at, updated_at, "
    "version, due_date, due_time, reminder_at"
)
LIST = f"""
SELECT {COLUMNS} FROM tasks WHERE owner_id = $1 AND status = 'open'
ORDER BY created_at DESC, id DESC LIMIT 50
"""
CREATE = f"""
INSERT INTO tasks (id, owner_id, title, description, status, version, created_at, updated_at)
VALUES ($1, $2, $3, '', 'open', 1, now(), now()) RETURNING {COLUMNS}
"""
UPDATE = f"""
UPDATE tasks SET title = $3, version = version + 1, updated_at = now()
WHERE id = $1 AND owner_id = $2 RETURNING {COLUMNS}
"""
OUTBOX = """
INSERT INTO outbox (event_id, event_type, payload, headers, published_at)
VALUES ($1, $2, $3, '{}', now())
"""
"""Marked published: the service's relay, running beside, must not spend its CPU on them."""


def _plain(value: Any) -> Any:
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _task(row: asyncpg.Record) -> dict[str, Any]:
    return {key: _plain(value) for key, value in row.items()}


def _json(content: Any, status_code: int = 200) -> Response:
    return Response(json.dumps(content), status_code, media_type="application/json")


def create_app() -> Starlette:
    pool: asyncpg.Pool | None = None

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        nonlocal pool
        dsn = os.environ[DATABASE_URL_VARIABLE].replace("postgresql+asyncpg", "postgresql")
        pool = await asyncpg.create_pool(dsn, min_size=10, max_size=10)
        try:
            yield
        finally:
            await pool.close()

    async def list_tasks(request: Request) -> Response:
        assert pool is not None
        rows = await pool.fetch(LIST, uuid.UUID(request.query_params["owner"]))
        return _json([_task(row) for row in rows])

    async def write(statement: str, event_type: str, *arguments: Any) -> dict[str, Any] | None:
        """Run ``statement`` and store the outbox row of its task, in one transaction."""
        assert pool is not None
        async with pool.acquire() as connection, connection.transaction():
            row = await connection.fetchrow(statement, *arguments)
            if row is None:
                return None
            task = _task(row)
            event = {"event_id": str(uuid.uuid4()), "data": task, "at": datetime.now(UTC)}
            payload = json.dumps(event, default=str)
            await connection.execute(OUTBOX, uuid.uuid4(), event_type, payload)
        return task

    async def create_task(request: Request) -> Response:
        body = await request.json()
        owner = uuid.UUID(request.query_params["owner"])
        task = await write(CREATE, "task.created", uuid.uuid4(), owner, body["title"])
        return _json(task, 201)

    async def update_task(request: Request) -> Response:
        body = await request.json()
        owner = uuid.UUID(request.query_params["owner"])
        task_id = uuid.UUID(request.path_params["task_id"])
        task = await write(UPDATE, "task.updated", task_id, owner, body["title"])
        return _json(task) if task is not None else _json({"message": "Not found"}, 404)

    return Starlette(
        routes=[
            Route("/bare/tasks", list_tasks, methods=["GET"]),
            Route("/bare/tasks", create_task, methods=["POST"]),
            Route("/bare/tasks/{task_id}", update_task, methods=["PATCH"]),
            Route("/healthz", lambda _: Response("ok"), methods=["GET"]),
        ],
        lifespan=lifespan,
    )
