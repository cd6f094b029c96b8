"""Deleting the account erases everything auth holds of the person."""

import json

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from ..support import PASSWORD, Account, events, fetch_all
from .test_password import browser, log_in

TABLES = ("users", "sessions", "refresh_tokens", "account_tokens", "rate_limits", "outbox")


async def dump(app: FastAPI) -> str:
    """Every row of every auth table, as text."""
    rows = []
    for table in TABLES:
        rows += await fetch_all(app, f"SELECT * FROM {table}")  # noqa: S608 (fixed names)
    return json.dumps(rows, default=str)


async def test_deleting_the_account_erases_it_and_ends_every_session(
    client: httpx.AsyncClient, app: FastAPI, account: Account
) -> None:
    async with browser(app) as other:
        await log_in(other, account.email, PASSWORD)
        await client.patch("/api/user", json={"digest_enabled": False})
        await client.post("/api/password-reset", json={"email": account.email})
        await log_in(client, account.email, "a wrong guess")  # a failure counted for them
        async with app.state.database.engine.begin() as connection:  # the relay sent some
            await connection.execute(
                text("UPDATE outbox SET published_at = now() WHERE event_type <> 'user.updated'")
            )
        live_sessions = {str(row["id"]) for row in await fetch_all(app, "SELECT id FROM sessions")}

        response = await client.request("DELETE", "/api/user", json={"password": PASSWORD})

        assert response.status_code == 204
        cleared = response.headers.get_list("set-cookie")
        assert any(c.startswith("tt_access=") and "Max-Age=0" in c for c in cleared)
        assert any(c.startswith("tt_refresh=") and "Max-Age=0" in c for c in cleared)
        assert (await other.get("/api/user")).status_code == 401
        assert (await other.post("/api/session/refresh")).status_code == 401

    assert await events(app, "user.deleted") == [{"user_id": account.id}]
    revoked = await events(app, "session.revoked")
    assert {event["session_id"] for event in revoked} == live_sessions
    remaining = await fetch_all(app, "SELECT event_type FROM outbox")
    assert sorted(str(row["event_type"]) for row in remaining) == sorted(
        ["user.deleted"] + ["session.revoked"] * len(live_sessions)
    )
    # Apart from those events, which the relay sends and then forgets with the other sent
    # rows, nothing names the person.
    async with app.state.database.engine.begin() as connection:
        await connection.execute(
            text("DELETE FROM outbox WHERE event_type IN ('user.deleted', 'session.revoked')")
        )
    everything = await dump(app)
    assert account.id not in everything
    assert account.email not in everything
    rate_limit_keys = [
        str(row["key"]) for row in await fetch_all(app, "SELECT key FROM rate_limits")
    ]
    assert all(key.endswith("-ip:203.0.113.7") for key in rate_limit_keys)


async def test_a_wrong_password_deletes_nothing(
    client: httpx.AsyncClient, app: FastAPI, account: Account
) -> None:
    response = await client.request("DELETE", "/api/user", json={"password": "not it"})

    assert response.status_code == 403
    assert response.json()["message"] == "Wrong password"
    assert (await client.get("/api/user")).status_code == 200
    assert await events(app, "user.deleted") == []


async def test_deleting_needs_a_login(client: httpx.AsyncClient) -> None:
    response = await client.request("DELETE", "/api/user", json={"password": PASSWORD})

    assert response.status_code == 401


async def test_the_same_address_can_register_again_and_starts_empty(
    client: httpx.AsyncClient, app: FastAPI, account: Account
) -> None:
    await client.patch("/api/user", json={"timezone": "Asia/Tokyo", "reminders_enabled": False})
    await client.request("DELETE", "/api/user", json={"password": PASSWORD})

    again = await client.post(
        "/api/user", json={"email": account.email.upper(), "password": PASSWORD}
    )

    assert again.status_code == 200, again.text
    body = again.json()
    assert body["id"] != account.id
    assert body["timezone"] == "UTC"
    assert body["reminders_enabled"] is True
    assert body["email_verified"] is False


async def test_a_missing_password_is_a_422(client: httpx.AsyncClient, account: Account) -> None:
    for body in ({}, {"password": ""}):
        response = await client.request("DELETE", "/api/user", json=body)
        assert response.status_code == 422
        assert response.json()["message"]
    bare = await client.delete("/api/user")
    assert bare.status_code in {400, 415, 422}
    assert bare.json()["message"]
    assert (await client.get("/api/user")).status_code == 200
