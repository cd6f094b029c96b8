"""The list: its order, the status filter and keyset pagination through the Link header."""

import re
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from devsupport.accounts import Account
from tests.support.database import execute

LINK = re.compile(r'^<(?P<url>[^>]+)>; rel="next"$')


async def add_tasks(
    app: FastAPI, owner: Account, *, open_count: int, done_count: int
) -> tuple[list[str], list[str]]:
    """Open and done tasks with distinct creation and completion times, the creation order
    deliberately different from the completion order. Returns the ids in the expected list
    order (open newest-created first, done newest-completed first)."""
    open_ids = [str(uuid.uuid4()) for _ in range(open_count)]
    done_ids = [str(uuid.uuid4()) for _ in range(done_count)]
    for minute, task_id in enumerate(open_ids):
        await execute(
            app,
            "INSERT INTO tasks (id, owner_id, title, created_at) VALUES (:id, :owner, :title, "
            "'2026-01-01T00:00Z'::timestamptz + make_interval(mins => :m))",
            id=task_id,
            owner=owner.id,
            title=f"open {minute}",
            m=minute,
        )
    for minute, task_id in enumerate(done_ids):
        # Created in reverse order of completion, so sorting by creation would be wrong.
        await execute(
            app,
            "INSERT INTO tasks (id, owner_id, title, status, created_at, completed_at) "
            "VALUES (:id, :owner, :title, 'done', "
            "'2026-02-01T00:00Z'::timestamptz - make_interval(mins => :m), "
            "'2026-03-01T00:00Z'::timestamptz + make_interval(mins => :m))",
            id=task_id,
            owner=owner.id,
            title=f"done {minute}",
            m=minute,
        )
    return open_ids[::-1], done_ids[::-1]


async def all_pages(
    client: httpx.AsyncClient, account: Account, url: str
) -> tuple[list[dict[str, Any]], int]:
    """Follow the Link header to the end (bounded: the test data is small)."""
    tasks: list[dict[str, Any]] = []
    for pages in range(1, 50):
        response = await client.get(url, headers=account.headers)
        assert response.status_code == 200, response.text
        tasks += response.json()
        link = response.headers.get("link")
        if link is None:
            return tasks, pages
        match = LINK.match(link)
        assert match, link
        url = match["url"]
    pytest.fail("the pages never ended")


async def test_open_tasks_come_first_newest_created_then_done_newest_completed(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    open_ids, done_ids = await add_tasks(app, alice, open_count=3, done_count=3)

    response = await client.get("/api/tasks", headers=alice.headers)

    assert [task["id"] for task in response.json()] == open_ids + done_ids
    assert "link" not in response.headers


async def test_the_status_filter(app: FastAPI, client: httpx.AsyncClient, alice: Account) -> None:
    open_ids, done_ids = await add_tasks(app, alice, open_count=2, done_count=3)

    opened = await client.get("/api/tasks", params={"status": "open"}, headers=alice.headers)
    done = await client.get("/api/tasks?status=done", headers=alice.headers)
    unknown = await client.get("/api/tasks?status=archived", headers=alice.headers)

    assert [task["id"] for task in opened.json()] == open_ids
    assert [task["id"] for task in done.json()] == done_ids
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "status"


@pytest.mark.parametrize(
    ("query", "expected"),
    [("", "all"), ("status=open", "open"), ("status=done", "done")],
)
@pytest.mark.parametrize("limit", [1, 2, 3, 7])
async def test_pages_follow_each_other_to_the_end_without_gaps_or_repeats(
    app: FastAPI, client: httpx.AsyncClient, alice: Account, query: str, expected: str, limit: int
) -> None:
    open_ids, done_ids = await add_tasks(app, alice, open_count=5, done_count=4)
    wanted = {"all": open_ids + done_ids, "open": open_ids, "done": done_ids}[expected]

    tasks, pages = await all_pages(client, alice, f"/api/tasks?{query}&limit={limit}")

    assert [task["id"] for task in tasks] == wanted
    assert pages == max(1, -(-len(wanted) // limit))


async def test_the_default_page_is_bounded(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    open_ids, _ = await add_tasks(app, alice, open_count=51, done_count=0)

    first = await client.get("/api/tasks", headers=alice.headers)
    tasks, pages = await all_pages(client, alice, "/api/tasks")

    assert len(first.json()) == 50
    assert "limit=50" in first.headers["link"]
    assert [task["id"] for task in tasks] == open_ids
    assert pages == 2


async def test_pages_only_ever_show_the_callers_tasks(
    app: FastAPI, client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    await add_tasks(app, alice, open_count=3, done_count=3)
    bobs_open, bobs_done = await add_tasks(app, bob, open_count=1, done_count=1)

    tasks, _ = await all_pages(client, bob, "/api/tasks?limit=1")

    assert [task["id"] for task in tasks] == bobs_open + bobs_done


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=201",
        "limit=ten",
        "cursor=garbage",
        "cursor=eyJzdGF0dXMiOiJvcGVuIn0",  # {"status":"open"}: incomplete
        "status=open&cursor=" + "x" * 501,
    ],
)
async def test_invalid_paging_parameters_are_refused(
    client: httpx.AsyncClient, alice: Account, query: str
) -> None:
    response = await client.get(f"/api/tasks?{query}", headers=alice.headers)

    assert response.status_code == 422
    assert response.json()["message"]
    assert response.json()["errors"][0]["field"] in {"limit", "cursor"}


async def test_a_cursor_of_the_done_list_is_refused_for_the_open_list(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    await add_tasks(app, alice, open_count=0, done_count=3)
    first = await client.get("/api/tasks?status=done&limit=1", headers=alice.headers)
    cursor = LINK.match(first.headers["link"])["url"].split("cursor=")[1]  # type: ignore[index]

    response = await client.get(f"/api/tasks?status=open&cursor={cursor}", headers=alice.headers)

    assert response.status_code == 422
