"""A deleted account's tasks are erased: auth publishes user.deleted, this service's
consumer deletes every task of theirs and every outbox event about them. Through the real
RabbitMQ test vhost and database."""

import asyncio
import uuid

import httpx
from fastapi import FastAPI

from devsupport.accounts import Account
from tests.support.database import fetch_all
from tracker_contracts import Envelope, UserDeleted

from ..revocations.test_revocations import publish

TABLES_TO_SEARCH = ("tasks", "outbox", "revoked_sessions")


async def everything_stored(app: FastAPI) -> str:
    rows = [
        row["t"]
        for table in TABLES_TO_SEARCH
        for row in await fetch_all(app, f"SELECT t::text AS t FROM {table} AS t")  # noqa: S608
    ]
    return "\n".join(rows)


async def add_tasks(client: httpx.AsyncClient, account: Account, count: int) -> list[str]:
    ids = []
    for number in range(count):
        response = await client.post(
            "/api/tasks", json={"title": f"Task {number}"}, headers=account.headers
        )
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return ids


async def test_a_deleted_account_leaves_no_task_and_no_event_behind(
    app: FastAPI, client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    alices = await add_tasks(client, alice, 3)
    done = await client.patch(
        f"/api/tasks/{alices[0]}", json={"status": "done"}, headers=alice.headers
    )
    assert done.status_code == 200
    bobs = await add_tasks(client, bob, 2)
    assert alice.id in await everything_stored(app)  # the task.completed event, too

    event = Envelope.wrap(UserDeleted(user_id=uuid.UUID(alice.id)))
    await publish(
        event.model_dump_json().encode(),
        message_id=str(event.event_id),
        routing_key="user.deleted",
        headers={"event_version": UserDeleted.VERSION},
    )
    async with asyncio.timeout(10):
        while alice.id in await everything_stored(app):
            await asyncio.sleep(0.05)

    remaining = await fetch_all(app, "SELECT id::text AS id FROM tasks ORDER BY created_at")
    assert sorted(row["id"] for row in remaining) == sorted(bobs)
    assert bob.id in await everything_stored(app)
