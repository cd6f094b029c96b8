"""Optimistic concurrency: ETags carry the version, If-Match makes a change conditional."""

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from devsupport.accounts import Account
from tests.support.database import fetch_all
from tests.support.tasks import create_task


async def patch(
    client: httpx.AsyncClient, account: Account, task_id: str, if_match: str | None, **body: Any
) -> httpx.Response:
    headers = {**account.headers, **({"If-Match": if_match} if if_match is not None else {})}
    return await client.patch(f"/api/tasks/{task_id}", json=body, headers=headers)


async def test_the_current_etag_lets_the_change_through(
    client: httpx.AsyncClient, alice: Account
) -> None:
    task = await create_task(client, alice, title="Shared")
    etag = (await client.get(f"/api/tasks/{task['id']}", headers=alice.headers)).headers["etag"]

    response = await patch(client, alice, task["id"], etag, title="Mine now")

    assert response.status_code == 200
    assert response.headers["etag"] == '"2"'


async def test_a_stale_etag_is_refused_with_412_and_changes_nothing(
    client: httpx.AsyncClient, alice: Account
) -> None:
    task = await create_task(client, alice, title="Shared")
    await patch(client, alice, task["id"], None, title="Changed elsewhere")

    response = await patch(client, alice, task["id"], '"1"', title="Based on old data")

    assert response.status_code == 412
    assert response.json()["message"]
    assert response.headers["etag"] == '"2"'  # what to reload
    current = (await client.get(f"/api/tasks/{task['id']}", headers=alice.headers)).json()
    assert current["title"] == "Changed elsewhere"
    assert current["version"] == 2


@pytest.mark.parametrize("if_match", ["*", ' "7", "1" ', '"1"'])
async def test_wildcard_and_lists_of_etags_match(
    client: httpx.AsyncClient, alice: Account, if_match: str
) -> None:
    task = await create_task(client, alice, title="Shared")

    response = await patch(client, alice, task["id"], if_match, status="done")

    assert response.status_code == 200


@pytest.mark.parametrize("if_match", ['W/"1"', "1", '"one"', '"99999999999"', ""])
async def test_weak_or_malformed_etags_never_match(
    client: httpx.AsyncClient, alice: Account, if_match: str
) -> None:
    task = await create_task(client, alice, title="Shared")

    response = await patch(client, alice, task["id"], if_match, status="done")

    assert response.status_code == 412


async def test_if_match_on_a_missing_or_foreign_task_is_404(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    task = await create_task(client, alice, title="Shared")

    for if_match in ('"1"', '"5"', "*"):
        response = await patch(client, bob, task["id"], if_match, title="Bob's")
        assert response.status_code == 404


async def test_of_two_concurrent_changes_from_one_version_only_one_wins(
    client: httpx.AsyncClient, alice: Account
) -> None:
    task = await create_task(client, alice, title="Shared")

    first, second = await asyncio.gather(
        patch(client, alice, task["id"], '"1"', title="Edited on the phone"),
        patch(client, alice, task["id"], '"1"', title="Edited on the laptop"),
    )

    assert sorted([first.status_code, second.status_code]) == [200, 412]
    winner = first if first.status_code == 200 else second
    current = (await client.get(f"/api/tasks/{task['id']}", headers=alice.headers)).json()
    assert current["title"] == winner.json()["title"]
    assert current["version"] == 2


async def test_concurrent_completions_announce_the_task_once(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    task = await create_task(client, alice, title="Shared")

    answers = await asyncio.gather(
        *(patch(client, alice, task["id"], None, status="done") for _ in range(5))
    )

    assert [answer.status_code for answer in answers] == [200] * 5
    assert len({answer.json()["completed_at"] for answer in answers}) == 1
    events = await fetch_all(app, "SELECT event_type FROM outbox ORDER BY id")
    completions = [event for event in events if event["event_type"] == "task.completed"]
    assert completions == [{"event_type": "task.completed"}]
