"""Hostile input never gets a 500: characters nobody means to type get a 422 naming the
field, a body nested thousands deep gets a 400, in the tasks service and in auth (whose
bodies go through the same parser)."""

import httpx
import pytest

from devsupport.accounts import Account

HOSTILE = {
    "NUL": "a\x00b",
    "escape": "\x1b[2J",
    "right-to-left override": "invoice\u202egpj.exe",
    "isolate": "\u2066hidden\u2069",
}


@pytest.mark.parametrize("value", HOSTILE.values(), ids=HOSTILE.keys())
@pytest.mark.parametrize("field", ["title", "description"])
async def test_a_hostile_character_in_a_new_task_is_a_422_naming_the_field(
    client: httpx.AsyncClient, alice: Account, field: str, value: str
) -> None:
    body = {"title": "Fine", field: value}

    as_json = await client.post("/api/tasks", json=body, headers=alice.headers)
    as_form = await client.post("/api/tasks", data=body, headers=alice.headers)

    for response in (as_json, as_form):
        assert response.status_code == 422
        [error] = response.json()["errors"]
        assert error["field"] == field
        assert error["message"].startswith("Must not contain")
        assert response.json()["message"].startswith(f"{field}: Must not contain")
    listed = await client.get("/api/tasks", headers=alice.headers)
    assert listed.json() == []


@pytest.mark.parametrize("field", ["title", "description"])
async def test_a_hostile_character_in_a_change_is_a_422_and_changes_nothing(
    client: httpx.AsyncClient, alice: Account, field: str
) -> None:
    created = await client.post("/api/tasks", json={"title": "Fine"}, headers=alice.headers)
    url = f"/api/tasks/{created.json()['id']}"

    response = await client.patch(url, json={field: "a\x00b"}, headers=alice.headers)

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == field
    assert (await client.get(url, headers=alice.headers)).json() == created.json()


async def test_line_breaks_and_tabs_in_a_description_stay_welcome(
    client: httpx.AsyncClient, alice: Account
) -> None:
    description = "Steps:\r\n\t1. flour\n\t2. water"

    response = await client.post(
        "/api/tasks", json={"title": "Bread\n", "description": description}, headers=alice.headers
    )

    assert response.status_code == 201
    assert (response.json()["title"], response.json()["description"]) == ("Bread", description)


DEEP = ("[" * 100_000).encode()


@pytest.mark.parametrize(
    ("service", "method", "path"),
    [
        ("tasks", "POST", "/api/tasks"),
        ("tasks", "PATCH", "/api/tasks/00000000-0000-4000-8000-000000000000"),
        ("auth", "POST", "/api/user"),
        ("auth", "POST", "/api/session"),
    ],
)
async def test_a_body_nested_too_deeply_is_a_400_with_a_message(
    client: httpx.AsyncClient,
    auth: httpx.AsyncClient,
    alice: Account,
    service: str,
    method: str,
    path: str,
) -> None:
    http = client if service == "tasks" else auth
    nested = b'{"title": ' + b"[" * 5_000 + b"]" * 5_000 + b"}"

    for body in (DEEP[:15_000], nested):
        response = await http.request(
            method,
            path,
            content=body,
            headers={**alice.headers, "content-type": "application/json"},
        )
        assert response.status_code == 400, response.text
        assert response.json() == {"message": "The request body is nested too deeply"}
