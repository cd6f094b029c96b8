"""Confirming the address: the welcome mail's link, a new link on request, and the limits."""

from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from devsupport.accounts import Account
from tests.support.database import fetch_all
from tracker_auth.users.emails import link_token_digest

from ..support import events, last_link_token

WELCOME = "user.registered"
"""The event that carries the welcome mail's link."""
REQUESTED = "user.verification_requested"


async def test_registration_asks_for_the_welcome_mail_with_a_link(
    client: httpx.AsyncClient, app: FastAPI, account: Account
) -> None:
    [request] = await events(app, WELCOME)
    assert request["user_id"] == account.id
    assert request["email"] == account.email
    assert await events(app, REQUESTED) == []  # one event asks for the welcome mail
    expires_at = datetime.fromisoformat(request["expires_at"])
    assert timedelta(days=6, hours=23) < expires_at - datetime.now(UTC) <= timedelta(days=7)
    [stored] = await fetch_all(app, "SELECT token_digest, purpose, used_at FROM account_tokens")
    assert stored["purpose"] == "verify"
    assert stored["used_at"] is None
    assert stored["token_digest"] == link_token_digest(request["token"])  # only the digest
    me = (await client.get("/api/user")).json()
    assert me["email_verified"] is False
    assert me["reminders_enabled"] is True


async def test_the_link_confirms_the_address_once(
    client: httpx.AsyncClient, app: FastAPI, account: Account
) -> None:
    token = await last_link_token(app, WELCOME)
    client.cookies.clear()  # the link may be opened in another browser, logged out

    response = await client.post("/api/user/email-verification", json={"token": token})

    assert response.status_code == 200, response.text
    assert response.json()["email_verified"] is True
    assert response.json()["id"] == account.id
    [verified] = await events(app, "user.verified")
    assert verified == {
        "user_id": account.id,
        "email": account.email,
        "timezone": "UTC",
        "digest_enabled": True,
        "reminders_enabled": True,
        "email_verified": True,
    }
    again = await client.post("/api/user/email-verification", json={"token": token})
    assert again.status_code == 400
    assert "not valid" in again.json()["message"]
    assert len(await events(app, "user.verified")) == 1


async def test_an_expired_or_made_up_link_is_refused(
    client: httpx.AsyncClient, app: FastAPI, account: Account
) -> None:
    token = await last_link_token(app, WELCOME)
    async with app.state.database.engine.begin() as connection:
        await connection.execute(
            text("UPDATE account_tokens SET expires_at = :past"),
            {"past": datetime.now(UTC) - timedelta(seconds=1)},
        )

    for attempt in (token, "made-up-token"):
        response = await client.post("/api/user/email-verification", json={"token": attempt})
        assert response.status_code == 400
        assert response.json()["message"]
    assert (await client.get("/api/user")).json()["email_verified"] is False
    assert await events(app, "user.verified") == []


async def test_a_reset_link_does_not_confirm_the_address(
    client: httpx.AsyncClient, app: FastAPI, account: Account
) -> None:
    assert (
        await client.post("/api/password-reset", json={"email": account.email})
    ).status_code == 202
    reset_token = await last_link_token(app, "user.password_reset_requested")

    response = await client.post("/api/user/email-verification", json={"token": reset_token})

    assert response.status_code == 400


async def test_a_new_link_on_request(
    client: httpx.AsyncClient, app: FastAPI, account: Account
) -> None:
    response = await client.post("/api/user/verification-mail")

    assert response.status_code == 202
    [welcome] = await events(app, WELCOME)
    [again] = await events(app, REQUESTED)
    assert again["welcome"] is False
    assert again["token"] != welcome["token"]
    unused = await fetch_all(app, "SELECT id FROM account_tokens WHERE used_at IS NULL")
    assert len(unused) == 2  # the older link keeps working too
    ok = await client.post("/api/user/email-verification", json={"token": again["token"]})
    assert ok.status_code == 200


async def test_new_links_are_limited_per_account(
    client: httpx.AsyncClient, app: FastAPI, account: Account
) -> None:
    limit = app.state.context.settings.verification_mails_per_address
    for _ in range(limit):
        assert (await client.post("/api/user/verification-mail")).status_code == 202

    refused = await client.post("/api/user/verification-mail")

    assert refused.status_code == 429
    assert refused.json()["message"]
    assert 0 < int(refused.headers["Retry-After"]) <= 3600
    assert len(await events(app, REQUESTED)) == limit


async def test_a_confirmed_address_needs_no_new_link(
    client: httpx.AsyncClient, app: FastAPI, account: Account
) -> None:
    token = await last_link_token(app, WELCOME)
    await client.post("/api/user/email-verification", json={"token": token})

    response = await client.post("/api/user/verification-mail")

    assert response.status_code == 409
    assert "already confirmed" in response.json()["message"]


async def test_a_new_link_needs_a_login(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/user/verification-mail")

    assert response.status_code == 401


async def test_reminders_can_be_turned_off_and_user_updated_carries_the_whole_state(
    client: httpx.AsyncClient, app: FastAPI, account: Account
) -> None:
    response = await client.patch("/api/user", json={"reminders_enabled": False})

    assert response.status_code == 200
    assert response.json()["reminders_enabled"] is False
    assert (await client.get("/api/user")).json()["reminders_enabled"] is False
    assert await events(app, "user.updated") == [
        {
            "user_id": account.id,
            "email": account.email,
            "timezone": "UTC",
            "digest_enabled": True,
            "reminders_enabled": False,
            "email_verified": False,
        }
    ]


async def test_a_malformed_token_gets_a_4xx(client: httpx.AsyncClient) -> None:
    for body in ({}, {"token": ""}, {"token": "x" * 201}, {"token": 5}):
        response = await client.post("/api/user/email-verification", json=body)
        assert response.status_code == 422
        assert response.json()["message"]
    nul = await client.post("/api/user/email-verification", json={"token": "a\u0000b"})
    assert nul.status_code == 400
