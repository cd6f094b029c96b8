"""Creating, reading, changing and deleting tasks, as pinned in DESIGN §3."""

import uuid
from datetime import datetime
from typing import Any

import httpx
import pytest

from devsupport.accounts import Account
from tests.support.tasks import create_task

TASK_FIELDS = {
    "id",
    "title",
    "description",
    "status",
    "completed_at",
    "created_at",
    "updated_at",
    "version",
    "due_date",
    "due_time",
    "reminder_at",
}


def rfc3339(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    assert parsed.tzinfo is not None
    return parsed


async def test_create_answers_201_with_the_task(client: httpx.AsyncClient, alice: Account) -> None:
    response = await client.post(
        "/api/tasks", json={"title": "  Buy milk  "}, headers=alice.headers
    )

    assert response.status_code == 201
    task = response.json()
    assert set(task) == TASK_FIELDS
    assert task["title"] == "Buy milk"
    assert task["description"] == ""
    assert task["status"] == "open"
    assert task["completed_at"] is None
    assert task["due_date"] is task["due_time"] is task["reminder_at"] is None
    assert task["version"] == 1
    assert rfc3339(task["created_at"]) == rfc3339(task["updated_at"])
    assert response.headers["etag"] == '"1"'
    assert response.headers["location"] == f"/api/tasks/{task['id']}"


async def test_create_accepts_a_form_body(client: httpx.AsyncClient, alice: Account) -> None:
    response = await client.post(
        "/api/tasks",
        data={"title": "Water the plants", "description": "The fern first"},
        headers=alice.headers,
    )

    assert response.status_code == 201
    assert response.json()["description"] == "The fern first"


async def test_a_task_can_be_read_back(client: httpx.AsyncClient, alice: Account) -> None:
    created = await create_task(client, alice, title="Call mum", description="Sunday")

    response = await client.get(f"/api/tasks/{created['id']}", headers=alice.headers)

    assert response.status_code == 200
    assert response.json() == created
    assert response.headers["etag"] == '"1"'


async def test_patch_changes_only_the_fields_sent(
    client: httpx.AsyncClient, alice: Account
) -> None:
    created = await create_task(client, alice, title="Draft", description="Keep me")

    response = await client.patch(
        f"/api/tasks/{created['id']}", json={"title": "Final"}, headers=alice.headers
    )

    assert response.status_code == 200
    task = response.json()
    assert task["title"] == "Final"
    assert task["description"] == "Keep me"
    assert task["version"] == 2
    assert response.headers["etag"] == '"2"'
    assert rfc3339(task["updated_at"]) > rfc3339(created["updated_at"])
    assert task["created_at"] == created["created_at"]


async def test_completing_stamps_completed_at_and_reopening_clears_it(
    client: httpx.AsyncClient, alice: Account
) -> None:
    created = await create_task(client, alice, title="Ship it")
    url = f"/api/tasks/{created['id']}"

    done = (await client.patch(url, json={"status": "done"}, headers=alice.headers)).json()
    again = (await client.patch(url, json={"status": "done"}, headers=alice.headers)).json()
    reopened = (await client.patch(url, data={"status": "open"}, headers=alice.headers)).json()

    assert done["status"] == "done"
    assert rfc3339(done["completed_at"]) >= rfc3339(created["created_at"])
    assert again["completed_at"] == done["completed_at"]  # done→done keeps the first stamp
    assert reopened["status"] == "open"
    assert reopened["completed_at"] is None


async def test_delete_answers_204_and_the_task_is_gone(
    client: httpx.AsyncClient, alice: Account
) -> None:
    created = await create_task(client, alice, title="Temporary")
    url = f"/api/tasks/{created['id']}"

    deleted = await client.delete(url, headers=alice.headers)
    after = await client.get(url, headers=alice.headers)
    twice = await client.delete(url, headers=alice.headers)

    assert deleted.status_code == 204
    assert deleted.content == b""
    assert after.status_code == 404
    assert twice.status_code == 404


async def test_another_persons_task_is_not_found_by_any_method(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    task = await create_task(client, alice, title="Alice's secret")
    url = f"/api/tasks/{task['id']}"

    answers = [
        await client.get(url, headers=bob.headers),
        await client.patch(url, json={"title": "Bob was here"}, headers=bob.headers),
        await client.patch(url, json={"status": "done"}, headers=bob.headers),
        await client.delete(url, headers=bob.headers),
    ]
    bobs_list = await client.get("/api/tasks", headers=bob.headers)
    alices_view = await client.get(url, headers=alice.headers)

    assert [answer.status_code for answer in answers] == [404, 404, 404, 404]
    assert all(answer.json() == {"message": "Task not found"} for answer in answers)
    assert bobs_list.json() == []
    assert alices_view.json() == task  # untouched


@pytest.mark.parametrize("path", ["not-a-uuid", "123", "%20", uuid.uuid4().hex[:-1]])
async def test_a_malformed_id_is_not_found(
    client: httpx.AsyncClient, alice: Account, path: str
) -> None:
    for method in ("GET", "PATCH", "DELETE"):
        response = await client.request(
            method, f"/api/tasks/{path}", json={"title": "x"}, headers=alice.headers
        )
        assert response.status_code == 404, method
        assert response.json()["message"]


async def test_an_unknown_id_is_not_found(client: httpx.AsyncClient, alice: Account) -> None:
    response = await client.get(f"/api/tasks/{uuid.uuid4()}", headers=alice.headers)

    assert response.status_code == 404
    assert response.json() == {"message": "Task not found"}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/tasks"),
        ("POST", "/api/tasks"),
        ("GET", f"/api/tasks/{uuid.uuid4()}"),
        ("GET", "/api/tasks/not-a-uuid"),
        ("PATCH", f"/api/tasks/{uuid.uuid4()}"),
        ("DELETE", f"/api/tasks/{uuid.uuid4()}"),
    ],
)
async def test_every_endpoint_needs_a_login(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await client.request(method, path, json={"title": "x"})

    assert response.status_code == 401
    assert response.json()["message"]
    assert response.headers["www-authenticate"] == "Bearer"


CREATE_INVALID: dict[str, tuple[Any, str]] = {
    "missing title": ({}, "title"),
    "empty title": ({"title": ""}, "title"),
    "whitespace title": ({"title": " \t\n "}, "title"),
    "overlong title": ({"title": "x" * 201}, "title"),
    "number as title": ({"title": 42}, "title"),
    "null title": ({"title": None}, "title"),
    "list as title": ({"title": ["a"]}, "title"),
    "overlong description": ({"title": "ok", "description": "x" * 10_001}, "description"),
    "number as description": ({"title": "ok", "description": 1}, "description"),
    "unknown field": ({"title": "ok", "owner_id": str(uuid.uuid4())}, "owner_id"),
    "status on create": ({"title": "ok", "status": "done"}, "status"),
}


@pytest.mark.parametrize(("body", "field"), CREATE_INVALID.values(), ids=CREATE_INVALID.keys())
async def test_invalid_new_tasks_are_refused(
    client: httpx.AsyncClient, alice: Account, body: Any, field: str
) -> None:
    response = await client.post("/api/tasks", json=body, headers=alice.headers)

    assert response.status_code == 422
    answer = response.json()
    assert answer["message"]
    assert field in [error["field"] for error in answer["errors"]]
    assert all(error["message"] for error in answer["errors"])
    assert (await client.get("/api/tasks", headers=alice.headers)).json() == []


async def test_limits_count_characters_after_trimming(
    client: httpx.AsyncClient, alice: Account
) -> None:
    title = "é" * 200
    response = await client.post(
        "/api/tasks",
        json={"title": f"  {title}  ", "description": "ü" * 10_000},
        headers=alice.headers,
    )

    assert response.status_code == 201
    assert response.json()["title"] == title


UPDATE_INVALID: dict[str, tuple[Any, str | None]] = {
    "empty body": ({}, None),
    "empty title": ({"title": ""}, "title"),
    "whitespace title": ({"title": "   "}, "title"),
    "overlong title": ({"title": "x" * 201}, "title"),
    "number as title": ({"title": 7}, "title"),
    "null title": ({"title": None}, "title"),
    "null description": ({"description": None}, "description"),
    "overlong description": ({"description": "x" * 10_001}, "description"),
    "unknown status": ({"status": "archived"}, "status"),
    "null status": ({"status": None}, "status"),
    "boolean status": ({"status": True}, "status"),
    "unknown field": ({"title": "ok", "version": 9}, "version"),
}


@pytest.mark.parametrize(("body", "field"), UPDATE_INVALID.values(), ids=UPDATE_INVALID.keys())
async def test_invalid_changes_are_refused(
    client: httpx.AsyncClient, alice: Account, body: Any, field: str | None
) -> None:
    task = await create_task(client, alice, title="Unchanged", description="As before")

    response = await client.patch(f"/api/tasks/{task['id']}", json=body, headers=alice.headers)

    assert response.status_code == 422
    answer = response.json()
    assert answer["message"]
    assert field in [error["field"] for error in answer["errors"]]
    current = await client.get(f"/api/tasks/{task['id']}", headers=alice.headers)
    assert current.json() == task


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        (b"[1, 2]", "application/json", 422),
        (b"{not json", "application/json", 400),
        (b"title=x", "text/plain", 415),
    ],
)
async def test_bodies_that_are_no_object_are_refused(
    client: httpx.AsyncClient, alice: Account, content: bytes, content_type: str, status: int
) -> None:
    response = await client.post(
        "/api/tasks",
        content=content,
        headers={**alice.headers, "Content-Type": content_type},
    )

    assert response.status_code == status
    assert response.json()["message"]


async def test_a_browser_with_the_access_cookie_is_served_but_guarded_cross_site(
    client: httpx.AsyncClient, alice: Account
) -> None:
    client.cookies.set("tt_access", alice.access_token, path="/api")

    created = await client.post(
        "/api/tasks", json={"title": "From the web app"}, headers={"Origin": "https://tracker.test"}
    )
    listed = await client.get("/api/tasks")
    forged = await client.post(
        "/api/tasks", json={"title": "From evil"}, headers={"Origin": "https://evil.example"}
    )

    assert created.status_code == 201
    assert [task["title"] for task in listed.json()] == ["From the web app"]
    assert forged.status_code == 403


async def test_the_longest_description_fits_even_form_encoded(
    client: httpx.AsyncClient, alice: Account
) -> None:
    description = "😀" * 10_000
    response = await client.post(
        "/api/tasks", data={"title": "🎉" * 200, "description": description}, headers=alice.headers
    )
    too_large = await client.post(
        "/api/tasks",
        content=b"x" * 200_000,
        headers={**alice.headers, "Content-Type": "application/json"},
    )

    assert response.status_code == 201
    assert response.json()["description"] == description
    assert too_large.status_code == 413
