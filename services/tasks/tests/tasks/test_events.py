"""Completing a task announces it through the outbox, in the transaction of the change."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from devsupport.accounts import Account
from tests.support.database import fetch_all
from tests.support.rabbitmq import observe_events
from tests.support.tasks import create_task, set_status
from tracker_contracts import TaskCompleted, TaskDeleted, TaskUpdated, parse_envelope
from tracker_runtime.outbox import add_event

from ..support import BASE_URL


def completed_task_id(body: bytes) -> str | None:
    data = parse_envelope(body).data
    return str(data.task_id) if isinstance(data, TaskCompleted) else None


async def outbox_events(app: FastAPI, event_type: str | None = None) -> list[dict[str, Any]]:
    """The events in the outbox, oldest first; only those of ``event_type`` if given."""
    events = await fetch_all(app, "SELECT event_type, payload FROM outbox ORDER BY id")
    return [event for event in events if event_type in (None, event["event_type"])]


async def test_completing_publishes_one_task_completed(
    client: httpx.AsyncClient, alice: Account
) -> None:
    task = await create_task(client, alice, title="Write the report")

    async with observe_events("task.completed") as observed:
        response = await client.patch(
            f"/api/tasks/{task['id']}", json={"status": "done"}, headers=alice.headers
        )
        await observed.wait_for(1, timeout=10)
        await asyncio.sleep(0.3)  # time for a duplicate to show up, if there were one

    done = response.json()
    # Only this task's events: the test vhost is shared with other suites.
    [message] = [m for m in observed.messages if completed_task_id(m.body) == task["id"]]
    envelope = parse_envelope(message.body)
    assert isinstance(envelope.data, TaskCompleted)
    assert envelope.data == TaskCompleted(
        task_id=uuid.UUID(task["id"]),
        user_id=uuid.UUID(alice.id),
        title="Write the report",
        completed_at=done["completed_at"],
    )
    assert message.message_id == str(envelope.event_id)
    assert message.content_type == "application/json"
    assert message.routing_key == "task.completed"
    assert message.headers["x-request-id"] == response.headers["x-request-id"]


async def test_only_the_step_from_open_to_done_is_announced(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    task = await create_task(client, alice, title="Water the plants")

    first = await set_status(client, alice, task["id"], "done")
    await set_status(client, alice, task["id"], "done")  # done→done: nothing new
    after_repeat = await outbox_events(app, "task.completed")
    await set_status(client, alice, task["id"], "open")  # reopening: no completion
    after_reopen = await outbox_events(app, "task.completed")
    second = await set_status(client, alice, task["id"], "done")
    events = await outbox_events(app, "task.completed")

    assert len(after_repeat) == len(after_reopen) == 1
    assert [event["event_type"] for event in events] == ["task.completed", "task.completed"]
    stamps = [event["payload"]["data"]["completed_at"] for event in events]
    assert [TaskCompleted.model_validate(event["payload"]["data"]) for event in events]
    assert stamps[0] != stamps[1]
    assert first["completed_at"] != second["completed_at"]


async def test_every_change_announces_the_whole_task(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    created = await create_task(
        client, alice, title="Plan", due_date="2031-02-28", due_time="09:30"
    )
    changed = await client.patch(
        f"/api/tasks/{created['id']}",
        json={"title": "Plan the trip", "reminder_at": "2031-02-28T08:00:00+01:00"},
        headers=alice.headers,
    )
    done = await set_status(client, alice, created["id"], "done")
    await client.delete(f"/api/tasks/{created['id']}", headers=alice.headers)

    events = await outbox_events(app)
    assert [event["event_type"] for event in events] == [
        "task.created",
        "task.updated",
        "task.updated",
        "task.completed",
        "task.deleted",
    ]
    datas = [event["payload"]["data"] for event in events]
    expected = [created, changed.json(), done]
    for data, task in zip(datas[:3], expected, strict=True):
        assert TaskUpdated.model_validate(data)
        as_api = {key: value for key, value in task.items() if key != "id"}
        assert {key: data[key] for key in as_api} == as_api
        assert data["task_id"] == task["id"]
        assert data["user_id"] == alice.id
    assert datas[0]["due_time"] == "09:30"
    assert datas[1]["reminder_at"] == "2031-02-28T07:00:00Z"
    assert datas[2]["status"] == "done"
    assert TaskDeleted.model_validate(datas[4]) == TaskDeleted(
        task_id=uuid.UUID(created["id"]), user_id=uuid.UUID(alice.id)
    )


async def test_refused_changes_announce_nothing(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    task = await create_task(client, alice, title="Plan")
    before = await outbox_events(app)

    stale = await client.patch(
        f"/api/tasks/{task['id']}",
        json={"title": "Late"},
        headers={**alice.headers, "If-Match": '"7"'},
    )
    timeless = await client.patch(
        f"/api/tasks/{task['id']}", json={"due_time": "10:00"}, headers=alice.headers
    )

    assert (stale.status_code, timeless.status_code) == (412, 422)
    assert await outbox_events(app) == before


async def test_the_event_carries_the_title_of_the_same_change(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    task = await create_task(client, alice, title="Draft")

    await client.patch(
        f"/api/tasks/{task['id']}", json={"title": "Final", "status": "done"}, headers=alice.headers
    )

    [completed] = await outbox_events(app, "task.completed")
    [updated] = await outbox_events(app, "task.updated")
    assert completed["payload"]["data"]["title"] == updated["payload"]["data"]["title"] == "Final"


@pytest.fixture
async def raw_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client that gets the 500 answer instead of the app's exception."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
        yield http


class Injected(RuntimeError):
    pass


@pytest.mark.parametrize("when", ["instead of the outbox insert", "after the outbox insert"])
async def test_the_change_and_its_event_are_stored_together_or_not_at_all(
    app: FastAPI,
    raw_client: httpx.AsyncClient,
    alice: Account,
    monkeypatch: pytest.MonkeyPatch,
    when: str,
) -> None:
    task = await create_task(raw_client, alice, title="Fragile")
    created = await outbox_events(app)

    async def failing_add_event(*args: Any, **kwargs: Any) -> Any:
        if when == "after the outbox insert":
            await add_event(*args, **kwargs)
        raise Injected(when)

    monkeypatch.setattr("tracker_tasks.tasks.service.add_event", failing_add_event)
    response = await raw_client.patch(
        f"/api/tasks/{task['id']}", json={"status": "done"}, headers=alice.headers
    )
    monkeypatch.undo()

    assert response.status_code == 500
    assert response.json() == {"message": "Internal server error"}
    stored = await fetch_all(app, "SELECT status, completed_at, version FROM tasks")
    assert stored == [{"status": "open", "completed_at": None, "version": 1}]
    assert await outbox_events(app) == created

    # The control: without the failure, all are stored.
    await set_status(raw_client, alice, task["id"], "done")
    assert len(await outbox_events(app, "task.updated")) == 1
    assert len(await outbox_events(app, "task.completed")) == 1
