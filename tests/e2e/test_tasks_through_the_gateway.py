"""A person's tasks through the gateway, as `make dev` serves them."""

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from devsupport.accounts import bearer, new_email, register_sync
from tests.conftest import Stack
from tests.support.tasks import create_task_sync


@contextmanager
def logged_in(stack: Stack) -> Iterator[httpx.Client]:
    """A client holding the session cookies of a newly registered person."""
    with httpx.Client(base_url=stack.gateway) as client:
        register_sync(client, new_email("tasks"))
        yield client


def test_create_list_edit_complete_reopen_and_delete(stack: Stack) -> None:
    with logged_in(stack) as client:
        created = client.post("/api/tasks", json={"title": "  Buy milk  "})
        assert created.status_code == 201
        task = created.json()
        assert task["title"] == "Buy milk"
        assert task["status"] == "open"
        assert task["completed_at"] is None
        etag = created.headers["etag"]

        assert [t["id"] for t in client.get("/api/tasks").json()] == [task["id"]]
        assert client.get(f"/api/tasks/{task['id']}").json()["title"] == "Buy milk"

        edited = client.patch(
            f"/api/tasks/{task['id']}",
            json={"description": "Oat, 2 l"},
            headers={"If-Match": etag},
        )
        assert edited.status_code == 200
        stale = client.patch(
            f"/api/tasks/{task['id']}", json={"title": "Buy bread"}, headers={"If-Match": etag}
        )
        assert stale.status_code == 412
        assert stale.json()["message"]

        done = client.patch(f"/api/tasks/{task['id']}", json={"status": "done"})
        assert done.json()["status"] == "done"
        assert done.json()["completed_at"] is not None
        assert [t["id"] for t in client.get("/api/tasks?status=done").json()] == [task["id"]]
        reopened = client.patch(f"/api/tasks/{task['id']}", json={"status": "open"})
        assert reopened.json()["completed_at"] is None

        assert client.delete(f"/api/tasks/{task['id']}").status_code == 204
        assert client.get(f"/api/tasks/{task['id']}").status_code == 404
        assert client.get("/api/tasks").json() == []


def test_another_users_task_is_not_found_by_any_method(stack: Stack) -> None:
    with logged_in(stack) as owner, logged_in(stack) as stranger:
        task_id = create_task_sync(owner, title="Mine")["id"]

        answers = [
            stranger.get(f"/api/tasks/{task_id}"),
            stranger.patch(f"/api/tasks/{task_id}", json={"title": "Yours now"}),
            stranger.delete(f"/api/tasks/{task_id}"),
        ]

        assert [answer.status_code for answer in answers] == [404, 404, 404]
        assert all(answer.json()["message"] for answer in answers)
        assert stranger.get("/api/tasks").json() == []
        assert owner.get(f"/api/tasks/{task_id}").json()["title"] == "Mine"


def test_logging_out_ends_access_to_tasks_at_once(stack: Stack) -> None:
    with logged_in(stack) as client:
        token = client.post("/api/session/refresh").json()["access_token"]
        headers = bearer(token)
        with httpx.Client(base_url=stack.gateway) as cli:
            assert cli.get("/api/tasks", headers=headers).status_code == 200
            assert cli.delete("/api/session", headers=headers).status_code == 204
            logged_out_at = time.monotonic()
            while cli.get("/api/tasks", headers=headers).status_code != 401:
                # About 10 ms on a quiet machine; the bound leaves room for a loaded one while
                # still failing if revocation never arrives (the token would live 15 minutes).
                assert time.monotonic() - logged_out_at < 3.0, "still accepted after 3 s"
                time.sleep(0.02)


def test_invalid_task_input_gets_a_json_message(stack: Stack) -> None:
    with logged_in(stack) as client:
        for body in ({"title": "   "}, {"title": "x" * 201}, {"title": 5}, {"title": "a", "x": 1}):
            response = client.post(
                "/api/tasks", content=json.dumps(body), headers={"content-type": "application/json"}
            )
            assert response.status_code == 422, body
            assert response.json()["message"]
