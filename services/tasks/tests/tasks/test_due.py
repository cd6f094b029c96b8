"""Due dates, due times and reminder instants: set on create and by PATCH, cleared by null,
refused with a 422 naming the field, and the list sorted by them (``?sort=due``)."""

import uuid
from datetime import date, time
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from devsupport.accounts import Account
from tests.support.database import execute, fetch_all
from tests.support.tasks import create_task, set_status

from .test_listing import LINK, all_pages


async def patch(
    client: httpx.AsyncClient, account: Account, task_id: str, **body: Any
) -> httpx.Response:
    return await client.patch(f"/api/tasks/{task_id}", json=body, headers=account.headers)


async def test_a_task_is_created_with_its_due_fields(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    task = await create_task(
        client,
        alice,
        title="Pay the rent",
        due_date="2031-02-28",
        due_time="09:05",
        reminder_at="2031-02-28T08:35:00+01:00",
    )
    read = await client.get(f"/api/tasks/{task['id']}", headers=alice.headers)

    assert task["due_date"] == "2031-02-28"
    assert task["due_time"] == "09:05"
    assert task["reminder_at"] == "2031-02-28T07:35:00Z"  # the same instant, in UTC
    assert read.json() == task
    [stored] = await fetch_all(app, "SELECT due_date::text, due_time::text FROM tasks")
    assert stored == {"due_date": "2031-02-28", "due_time": "09:05:00"}


async def test_a_form_sets_the_fields_and_an_empty_field_clears(
    client: httpx.AsyncClient, alice: Account
) -> None:
    created = await client.post(
        "/api/tasks",
        data={"title": "Form", "due_date": "2031-01-02", "due_time": "", "reminder_at": ""},
        headers=alice.headers,
    )
    cleared = await client.patch(
        f"/api/tasks/{created.json()['id']}", data={"due_date": ""}, headers=alice.headers
    )

    assert created.status_code == 201, created.text
    assert (created.json()["due_date"], created.json()["due_time"]) == ("2031-01-02", None)
    assert cleared.json()["due_date"] is None


async def test_patch_sets_changes_and_null_clears(
    client: httpx.AsyncClient, alice: Account
) -> None:
    task = await create_task(client, alice, title="Dentist")

    dated = await patch(client, alice, task["id"], due_date="2031-03-01", due_time="14:30")
    reminded = await patch(client, alice, task["id"], reminder_at="2031-03-01T12:00:00Z")
    untimed = await patch(client, alice, task["id"], due_time=None)
    cleared = await patch(client, alice, task["id"], due_date=None, reminder_at=None)

    assert (dated.json()["due_date"], dated.json()["due_time"]) == ("2031-03-01", "14:30")
    assert reminded.json()["reminder_at"] == "2031-03-01T12:00:00Z"
    assert reminded.json()["due_time"] == "14:30"  # absent: left as it was
    assert untimed.json()["due_time"] is None
    assert untimed.json()["due_date"] == "2031-03-01"
    assert cleared.json()["due_date"] is cleared.json()["reminder_at"] is None
    assert cleared.json()["version"] == 5


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"due_date": "2031-02-30"}, "due_date"),
        ({"due_date": "2031-2-3"}, "due_date"),
        ({"due_date": "03.02.2031"}, "due_date"),
        ({"due_date": 20310203}, "due_date"),
        ({"due_date": "2031-02-03T10:00:00Z"}, "due_date"),
        ({"due_date": "2031-01-01", "due_time": "25:00"}, "due_time"),
        ({"due_date": "2031-01-01", "due_time": "12:60"}, "due_time"),
        ({"due_date": "2031-01-01", "due_time": "9:00"}, "due_time"),
        ({"due_date": "2031-01-01", "due_time": "09:00:00"}, "due_time"),
        ({"due_time": "09:00"}, "due_time"),
        ({"reminder_at": "2031-02-03T09:00:00"}, "reminder_at"),
        ({"reminder_at": "2031-02-03"}, "reminder_at"),
        ({"reminder_at": "2031-02-30T09:00:00Z"}, "reminder_at"),
        ({"reminder_at": "0001-01-01T00:00:00+14:00"}, "reminder_at"),
        ({"reminder_at": 1924992000}, "reminder_at"),
    ],
)
async def test_an_invalid_due_field_of_a_new_task_is_a_422_naming_it(
    client: httpx.AsyncClient, alice: Account, body: dict[str, Any], field: str
) -> None:
    response = await client.post("/api/tasks", json={"title": "Bad", **body}, headers=alice.headers)

    assert response.status_code == 422, response.text
    assert [error["field"] for error in response.json()["errors"]] == [field]
    assert response.json()["message"].startswith(f"{field}: ")
    assert (await client.get("/api/tasks", headers=alice.headers)).json() == []


async def test_a_time_cannot_outlive_its_date(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    undated = await create_task(client, alice, title="Undated")
    timed = await create_task(client, alice, title="Timed", due_date="2031-01-01", due_time="08:00")

    time_alone = await patch(client, alice, undated["id"], due_time="10:00")
    date_cleared = await patch(client, alice, timed["id"], due_date=None)
    both_cleared = await patch(client, alice, timed["id"], due_date=None, due_time=None)

    assert time_alone.status_code == 422
    assert time_alone.json()["errors"][0]["field"] == "due_time"
    assert date_cleared.status_code == 422
    assert date_cleared.json()["errors"][0]["field"] == "due_date"
    assert both_cleared.status_code == 200
    stored = await fetch_all(app, "SELECT title, due_time, version FROM tasks ORDER BY title")
    assert stored == [
        {"title": "Timed", "due_time": None, "version": 2},
        {"title": "Undated", "due_time": None, "version": 1},
    ]


async def test_the_database_refuses_a_time_without_a_date(app: FastAPI, alice: Account) -> None:
    with pytest.raises(Exception, match="ck_tasks_due_time_needs_date"):
        await execute(
            app,
            "INSERT INTO tasks (id, owner_id, title, due_time) VALUES (:id, :owner, 'x', '10:00')",
            id=str(uuid.uuid4()),
            owner=alice.id,
        )


async def add_task(
    app: FastAPI,
    owner: Account,
    title: str,
    *,
    due_date: str | None = None,
    due_time: str | None = None,
    created_minute: int = 0,
    done: bool = False,
) -> None:
    await execute(
        app,
        "INSERT INTO tasks (id, owner_id, title, due_date, due_time, created_at, status, "
        "completed_at) VALUES (:id, :owner, :title, :due_date, :due_time, "
        "'2026-01-01T00:00Z'::timestamptz + make_interval(mins => :m), "
        ":status, CASE WHEN :done THEN '2026-06-01T00:00Z'::timestamptz + "
        "make_interval(mins => :m) END)",
        id=str(uuid.uuid4()),
        owner=owner.id,
        title=title,
        due_date=None if due_date is None else date.fromisoformat(due_date),
        due_time=None if due_time is None else time.fromisoformat(due_time),
        m=created_minute,
        status="done" if done else "open",
        done=done,
    )


async def due_ordered_tasks(app: FastAPI, owner: Account) -> list[str]:
    """A mix of dated, timed, undated and done tasks; their titles in the due order."""
    await add_task(app, owner, "undated old", created_minute=1)
    await add_task(app, owner, "next year", due_date="2027-05-01", created_minute=2)
    await add_task(app, owner, "long overdue", due_date="2025-12-31", created_minute=3)
    await add_task(app, owner, "today untimed", due_date="2026-12-03", created_minute=4)
    await add_task(app, owner, "today 18:00", due_date="2026-12-03", due_time="18:00")
    await add_task(app, owner, "today 08:00", due_date="2026-12-03", due_time="08:00")
    await add_task(app, owner, "undated new", created_minute=9)
    await add_task(app, owner, "done dated", due_date="2020-01-01", done=True, created_minute=5)
    await add_task(app, owner, "done undated", done=True, created_minute=6)
    await add_task(app, owner, "today untimed bis", due_date="2026-12-03", created_minute=7)
    await add_task(app, owner, "today 18:00 bis", due_date="2026-12-03", due_time="18:00")
    return [
        "long overdue",
        "today 08:00",
        "today 18:00",  # and "today 18:00 bis", in id order
        "today 18:00",
        "today untimed",  # and "today untimed bis", in id order
        "today untimed",
        "next year",
        "undated new",
        "undated old",
        "done undated",
        "done dated",
    ]


async def test_sort_due_puts_overdue_first_then_by_due_then_undated_newest_first(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    expected = await due_ordered_tasks(app, alice)

    response = await client.get("/api/tasks?sort=due", headers=alice.headers)
    default = await client.get("/api/tasks", headers=alice.headers)

    titles = [task["title"] for task in response.json()]
    assert canonical(titles) == expected
    # Ties within a due date and time go by id.
    ids = {task["title"]: task["id"] for task in response.json()}
    for first, second in [(2, 3), (4, 5)]:
        assert ids[titles[first]] < ids[titles[second]]
    # The default order is unchanged: open newest-created first, then done.
    assert [task["title"] for task in default.json()][:2] == ["undated new", "today untimed bis"]


def canonical(titles: list[str]) -> list[str]:
    """The titles with the two same-key pairs (whose order goes by id) made comparable."""
    return [title.removesuffix(" bis") for title in titles]


@pytest.mark.parametrize("query", ["sort=due", "sort=due&status=open"])
@pytest.mark.parametrize("limit", [1, 2, 3, 5])
async def test_sort_due_pages_without_gaps_or_repeats(
    app: FastAPI, client: httpx.AsyncClient, alice: Account, bob: Account, query: str, limit: int
) -> None:
    await due_ordered_tasks(app, alice)
    await add_task(app, bob, "bob's", due_date="2026-12-03", due_time="09:00")
    whole = (await client.get(f"/api/tasks?{query}", headers=alice.headers)).json()

    tasks, pages = await all_pages(client, alice, f"/api/tasks?{query}&limit={limit}")

    assert [task["id"] for task in tasks] == [task["id"] for task in whole]
    assert "bob's" not in {task["title"] for task in tasks}
    assert pages == -(-len(whole) // limit)
    if "status=open" in query:
        assert {task["status"] for task in tasks} == {"open"}


async def test_the_next_link_keeps_the_sort(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    await due_ordered_tasks(app, alice)

    first = await client.get("/api/tasks?sort=due&limit=1", headers=alice.headers)
    by_creation = await client.get("/api/tasks?limit=1", headers=alice.headers)
    link = LINK.match(first.headers["link"])
    assert link is not None
    cursor = link["url"].split("cursor=")[1]
    unsorted = await client.get(f"/api/tasks?cursor={cursor}", headers=alice.headers)

    assert "sort=due" in link["url"]
    assert "sort=" not in by_creation.headers["link"]
    # A cursor of the dated part means nothing in the default order.
    assert unsorted.status_code == 422
    assert unsorted.json()["errors"][0]["field"] == "cursor"


async def test_an_unknown_sort_is_a_422(client: httpx.AsyncClient, alice: Account) -> None:
    response = await client.get("/api/tasks?sort=title", headers=alice.headers)

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "sort"


async def test_completing_a_task_keeps_its_due_fields(
    client: httpx.AsyncClient, alice: Account
) -> None:
    task = await create_task(client, alice, title="Call", due_date="2031-01-01", due_time="10:00")

    done = await set_status(client, alice, task["id"], "done")

    assert (done["due_date"], done["due_time"]) == ("2031-01-01", "10:00")
