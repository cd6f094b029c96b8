"""A person's tasks through the tasks API: created and changed as the web app does.

``account`` sends its access token as a Bearer header; without it the client's own
cookies or headers carry the session (a client of the gateway that registered itself).
"""

from typing import Any

import httpx

from devsupport.accounts import Account

TASKS_PATH = "/api/tasks"


def _headers(account: Account | None) -> dict[str, str]:
    return account.headers if account is not None else {}


def _task(response: httpx.Response, expected: int) -> dict[str, Any]:
    assert response.status_code == expected, response.text
    task: dict[str, Any] = response.json()
    return task


async def create_task(
    client: httpx.AsyncClient, account: Account | None = None, **body: Any
) -> dict[str, Any]:
    """``POST /api/tasks`` with ``body`` (``title=...``, ...); the new task."""
    response = await client.post(TASKS_PATH, json=body, headers=_headers(account))
    return _task(response, 201)


def create_task_sync(
    client: httpx.Client, account: Account | None = None, **body: Any
) -> dict[str, Any]:
    """:func:`create_task` with a synchronous client."""
    response = client.post(TASKS_PATH, json=body, headers=_headers(account))
    return _task(response, 201)


async def set_status(
    client: httpx.AsyncClient, account: Account | None, task_id: str, status: str
) -> dict[str, Any]:
    """Mark the task ``done`` or ``open``; the changed task."""
    response = await client.patch(
        f"{TASKS_PATH}/{task_id}", json={"status": status}, headers=_headers(account)
    )
    return _task(response, 200)


def set_status_sync(
    client: httpx.Client, account: Account | None, task_id: str, status: str
) -> dict[str, Any]:
    """:func:`set_status` with a synchronous client."""
    response = client.patch(
        f"{TASKS_PATH}/{task_id}", json={"status": status}, headers=_headers(account)
    )
    return _task(response, 200)
