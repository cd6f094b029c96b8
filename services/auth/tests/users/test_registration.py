import asyncio
import json
import uuid
from datetime import datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from devsupport.accounts import PASSWORD, Account
from tests.support.database import fetch_all
from tracker_auth.context import AuthContext
from tracker_auth.sessions import service as sessions
from tracker_auth.users.emails import link_token_digest
from tracker_contracts import parse_envelope

from ..support import BASE_URL


async def test_register_with_json_logs_the_user_in(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/user",
        json={"email": "ada@example.com", "password": PASSWORD, "timezone": "Europe/Berlin"},
    )

    assert response.status_code == 200
    body = response.json()
    assert body["email"] == "ada@example.com"
    assert body["timezone"] == "Europe/Berlin"
    uuid.UUID(body["id"])
    assert body["access_token"]
    assert {"tt_access", "tt_refresh"} <= set(response.cookies.keys())
    me = await client.get("/api/user")
    assert me.status_code == 200
    assert me.json()["id"] == body["id"]


async def test_register_with_a_form_body(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/user", data={"email": "grace@example.com", "password": PASSWORD}
    )

    assert response.status_code == 200
    assert response.json()["email"] == "grace@example.com"
    assert response.json()["timezone"] == "UTC"  # DEFAULT_TIMEZONE


@pytest.mark.parametrize("email", ["ada@example.com", "ADA@Example.COM"])
async def test_a_taken_email_is_refused_case_insensitively(
    client: httpx.AsyncClient, account: Account, email: str
) -> None:
    response = await client.post("/api/user", json={"email": email, "password": PASSWORD})

    assert response.status_code == 409
    assert response.json()["message"] == "This email is already taken"


TOO_BIG = 20 * 1024


@pytest.mark.parametrize(
    ("content", "content_type", "status", "field"),
    [
        ({"email": "not-an-email", "password": PASSWORD}, "json", 422, "email"),
        ({"email": "a@b", "password": PASSWORD}, "json", 422, "email"),
        ({"email": "x" * 250 + "@example.com", "password": PASSWORD}, "json", 422, "email"),
        ({"email": "ada@example.com", "password": "short"}, "json", 422, "password"),
        ({"email": "ada@example.com", "password": "p" * 129}, "json", 422, "password"),
        ({"email": "ada@example.com", "password": "password123"}, "json", 422, "password"),
        ({"email": "ada@example.com", "password": "Qwertyuiop"}, "json", 422, "password"),
        ({"password": PASSWORD}, "json", 422, "email"),
        ({"email": "ada@example.com"}, "json", 422, "password"),
        ({"email": "ada@example.com", "password": 12345678}, "json", 422, "password"),
        (
            {"email": "ada@example.com", "password": PASSWORD, "timezone": "Mars/Olympus"},
            "json",
            422,
            "timezone",
        ),
        (
            {"email": "ada@example.com", "password": PASSWORD, "timezone": "../etc/passwd"},
            "json",
            422,
            "timezone",
        ),
        ({"email": "ada@example.com", "password": PASSWORD, "admin": True}, "json", 422, "admin"),
        ({"email": "ada@example.com", "password": "short"}, "form", 422, "password"),
        ({"password": PASSWORD}, "form", 422, "email"),
        ("[1, 2]", "raw-json", 422, None),
        ("{not json", "raw-json", 400, None),
        ("email=a@b.co&password=x", "text/plain", 415, None),
        ('{"email": "a@b.co"}', "multipart/form-data; boundary=x", 415, None),
        ("", None, 415, None),
        ("x" * TOO_BIG, "raw-json", 413, None),
    ],
)
async def test_invalid_registrations_get_a_4xx_with_a_message(
    client: httpx.AsyncClient,
    app: FastAPI,
    content: Any,
    content_type: str | None,
    status: int,
    field: str | None,
) -> None:
    if content_type == "json":
        response = await client.post("/api/user", json=content)
    elif content_type == "form":
        response = await client.post("/api/user", data=content)
    else:
        headers = {}
        if content_type is not None:
            headers["content-type"] = (
                "application/json" if content_type == "raw-json" else content_type
            )
        response = await client.post("/api/user", content=content, headers=headers)

    assert response.status_code == status, response.text
    body = response.json()
    assert isinstance(body["message"], str)
    assert body["message"]
    if field is not None:
        assert field in [error["field"] for error in body["errors"]]
    assert await fetch_all(app, "SELECT id FROM users") == []
    assert "tt_access" not in response.cookies


async def test_an_oversized_body_is_refused_even_without_a_declared_length(
    client: httpx.AsyncClient,
) -> None:
    async def chunks() -> Any:
        for _ in range(40):
            yield b"x" * 1024

    response = await client.post(
        "/api/user", content=chunks(), headers={"content-type": "application/json"}
    )

    assert response.status_code == 413
    assert "message" in response.json()


async def test_registration_writes_user_registered_to_the_outbox_with_the_user(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    response = await client.post(
        "/api/user",
        json={"email": "ada@example.com", "password": PASSWORD, "timezone": "Asia/Tokyo"},
    )
    user_id = response.json()["id"]

    rows = await fetch_all(
        app, "SELECT event_type, payload, headers, published_at FROM outbox ORDER BY id"
    )
    [row] = rows
    assert row["event_type"] == "user.registered"
    assert row["published_at"] is None
    envelope = parse_envelope(json.dumps(row["payload"]))
    data = envelope.data.model_dump(mode="json")
    token, expires_at = data.pop("token"), data.pop("expires_at")  # the welcome mail's link
    assert data == {"user_id": user_id, "email": "ada@example.com", "timezone": "Asia/Tokyo"}
    [stored] = await fetch_all(app, "SELECT token_digest, expires_at FROM account_tokens")
    assert stored["token_digest"] == link_token_digest(token)
    assert stored["expires_at"] == datetime.fromisoformat(expires_at)
    assert row["headers"]["event_version"] == 1
    assert row["headers"]["x-request-id"] == response.headers["x-request-id"]


async def test_a_refused_registration_writes_no_event(
    client: httpx.AsyncClient, app: FastAPI, account: Account
) -> None:
    response = await client.post("/api/user", json={"email": account.email, "password": PASSWORD})

    assert response.status_code == 409
    assert len(await fetch_all(app, "SELECT id FROM outbox")) == 1  # the first account's only


async def test_a_failure_after_the_insert_rolls_back_user_and_event(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken_start(*_: object) -> None:
        raise RuntimeError("the session could not be stored")

    monkeypatch.setattr(sessions, "start", broken_start)
    # As in production, the server answers 500 instead of handing the error to the client.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        response = await client.post(
            "/api/user", json={"email": "ada@example.com", "password": PASSWORD}
        )

    assert response.status_code == 500
    assert response.json() == {"message": "Internal server error"}
    assert await fetch_all(app, "SELECT id FROM users") == []
    assert await fetch_all(app, "SELECT id FROM outbox") == []


async def test_passwords_are_stored_as_argon2id_hashes(
    client: httpx.AsyncClient, app: FastAPI, account: Account
) -> None:
    [row] = await fetch_all(app, "SELECT password_hash FROM users")
    digest = str(row["password_hash"])
    assert digest.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert PASSWORD not in digest


async def test_hashing_runs_in_the_thread_pool(context: AuthContext) -> None:
    """The hash is computed off the event loop: the loop keeps running while it hashes."""
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0)
            ticks += 1

    task = asyncio.create_task(ticker())
    await asyncio.gather(*(context.hasher.hash(PASSWORD) for _ in range(4)))
    task.cancel()
    assert ticks > 10
