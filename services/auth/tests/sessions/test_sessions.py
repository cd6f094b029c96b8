import json
from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from tests.support.forged_tokens import claims_of
from tracker_contracts import parse_envelope

from ..support import PASSWORD, Account, fetch_all


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def set_cookies(response: httpx.Response) -> dict[str, SimpleCookie]:
    parsed: dict[str, SimpleCookie] = {}
    for header in response.headers.get_list("set-cookie"):
        cookie: SimpleCookie = SimpleCookie()
        cookie.load(header)
        for name in cookie:
            parsed[name] = cookie
    return parsed


async def age_rotations(app: FastAPI, *, by: timedelta) -> None:
    """Make every rotation of a refresh token ``by`` older."""
    async with app.state.database.engine.begin() as connection:
        await connection.execute(
            text("UPDATE refresh_tokens SET rotated_at = rotated_at - CAST(:by AS interval)"),
            {"by": by},
        )


@pytest.mark.parametrize("as_form", [False, True])
async def test_log_in_with_json_or_form(
    client: httpx.AsyncClient, account: Account, as_form: bool
) -> None:
    client.cookies.clear()
    credentials = {"email": "ADA@example.com", "password": PASSWORD}
    response = await (
        client.post("/api/session", data=credentials)
        if as_form
        else client.post("/api/session", json=credentials)
    )

    assert response.status_code == 200
    assert response.json()["id"] == account.id
    assert (await client.get("/api/user")).status_code == 200
    token = response.json()["access_token"]
    client.cookies.clear()
    me = await client.get("/api/user", headers=bearer(token))
    assert me.status_code == 200
    assert me.json()["email"] == account.email


@pytest.mark.parametrize(
    "credentials",
    [
        {"email": "ada@example.com", "password": "wrong password"},
        {"email": "nobody@example.com", "password": PASSWORD},
    ],
)
async def test_wrong_credentials_get_one_message_whoever_asks(
    client: httpx.AsyncClient, account: Account, credentials: dict[str, str]
) -> None:
    client.cookies.clear()
    response = await client.post("/api/session", json=credentials)

    assert response.status_code == 401
    assert response.json()["message"] == "Wrong email or password"
    assert "tt_access" not in response.cookies


async def test_an_unknown_email_still_costs_a_password_verification(
    client: httpx.AsyncClient, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    hasher = app.state.context.hasher
    verified: list[str | None] = []
    original = hasher.verify

    async def spy(password: str, digest: str | None) -> bool:
        verified.append(digest)
        matches: bool = await original(password, digest)
        return matches

    monkeypatch.setattr(hasher, "verify", spy)

    response = await client.post(
        "/api/session", json={"email": "nobody@example.com", "password": PASSWORD}
    )

    assert response.status_code == 401
    assert verified == [None]  # the dummy hash was verified against


async def test_the_current_user_needs_a_login(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/user")

    assert response.status_code == 401
    assert response.json()["message"]


async def test_cookies_are_http_only_strict_secure_and_scoped(
    client: httpx.AsyncClient, account: Account
) -> None:
    response = await client.post(
        "/api/session", json={"email": account.email, "password": PASSWORD}
    )

    cookies = set_cookies(response)
    access = cookies["tt_access"]["tt_access"]
    refresh = cookies["tt_refresh"]["tt_refresh"]
    for cookie in (access, refresh):
        assert cookie["httponly"] is True
        assert cookie["secure"] is True
        assert cookie["samesite"] == "strict"
    assert access["path"] == "/api"
    assert refresh["path"] == "/api/session"
    assert 0 < int(access["max-age"]) <= 15 * 60
    assert int(refresh["max-age"]) > int(access["max-age"])


async def test_log_out_revokes_the_session_everywhere(
    client: httpx.AsyncClient, app: FastAPI, account: Account
) -> None:
    response = await client.delete("/api/session", headers=bearer(account.access_token))

    assert response.status_code == 204
    cleared = set_cookies(response)
    assert cleared["tt_access"]["tt_access"]["max-age"] == "0"
    assert cleared["tt_refresh"]["tt_refresh"]["max-age"] == "0"
    client.cookies.clear()
    after = await client.get("/api/user", headers=bearer(account.access_token))
    assert after.status_code == 401
    events = await fetch_all(app, "SELECT payload FROM outbox WHERE event_type = 'session.revoked'")
    assert len(events) == 1
    revoked = parse_envelope(json.dumps(events[0]["payload"])).data
    assert str(revoked.user_id) == account.id  # type: ignore[attr-defined]
    assert revoked.expires_at > datetime.now(UTC)  # type: ignore[attr-defined]


async def test_log_out_with_the_refresh_cookie_alone(
    client: httpx.AsyncClient, app: FastAPI, account: Account
) -> None:
    refresh_token = client.cookies["tt_refresh"]
    client.cookies.clear()
    client.cookies.set("tt_refresh", refresh_token, path="/api/session")

    response = await client.delete("/api/session")

    assert response.status_code == 204
    assert (await client.get("/api/user", headers=bearer(account.access_token))).status_code == 401


async def test_log_out_twice_or_logged_out_is_harmless(
    client: httpx.AsyncClient, app: FastAPI, account: Account
) -> None:
    assert (await client.delete("/api/session")).status_code == 204
    client.cookies.clear()
    assert (await client.delete("/api/session")).status_code == 204
    assert (
        await client.delete("/api/session", headers=bearer(account.access_token))
    ).status_code == 204
    assert (
        len(await fetch_all(app, "SELECT id FROM outbox WHERE event_type = 'session.revoked'")) == 1
    )


async def test_refresh_rotates_the_refresh_token(
    client: httpx.AsyncClient, account: Account
) -> None:
    first = client.cookies["tt_refresh"]

    response = await client.post("/api/session/refresh")

    assert response.status_code == 200
    second = response.cookies["tt_refresh"]
    assert second != first
    assert response.json()["access_token"] != account.access_token
    assert (
        await client.get("/api/user", headers=bearer(response.json()["access_token"]))
    ).status_code == 200
    again = await client.post("/api/session/refresh")
    assert again.status_code == 200


async def test_a_reused_refresh_token_revokes_the_whole_family(
    client: httpx.AsyncClient, app: FastAPI, account: Account
) -> None:
    stolen = client.cookies["tt_refresh"]
    rotated = await client.post("/api/session/refresh")
    assert rotated.status_code == 200
    legit_access = rotated.json()["access_token"]
    await age_rotations(app, by=timedelta(seconds=31))  # past AUTH_REFRESH_GRACE

    client.cookies.clear()
    client.cookies.set("tt_refresh", stolen, path="/api/session")
    reuse = await client.post("/api/session/refresh")

    assert reuse.status_code == 401
    assert "already used" in reuse.json()["message"]
    client.cookies.clear()
    client.cookies.set("tt_refresh", rotated.cookies["tt_refresh"], path="/api/session")
    assert (await client.post("/api/session/refresh")).status_code == 401
    client.cookies.clear()
    assert (await client.get("/api/user", headers=bearer(legit_access))).status_code == 401
    assert (await client.get("/api/user", headers=bearer(account.access_token))).status_code == 401
    [session] = await fetch_all(app, "SELECT revoked_reason FROM sessions")
    assert session["revoked_reason"] == "reuse"
    assert (
        len(await fetch_all(app, "SELECT id FROM outbox WHERE event_type = 'session.revoked'")) == 1
    )


@pytest.mark.parametrize("cookie", [None, "", "made-up-token"])
async def test_refresh_without_a_known_token_is_refused(
    client: httpx.AsyncClient, cookie: str | None
) -> None:
    if cookie is not None:
        client.cookies.set("tt_refresh", cookie, path="/api/session")
    response = await client.post("/api/session/refresh")

    assert response.status_code == 401
    assert response.json()["message"]


@pytest.mark.parametrize(
    "aged",
    [
        "sessions",  # the family is past its absolute lifetime
        "refresh_tokens",  # the refresh token is past its idle lifetime
    ],
)
async def test_an_expired_session_or_refresh_token_cannot_refresh(
    client: httpx.AsyncClient, app: FastAPI, account: Account, aged: str
) -> None:
    async with app.state.database.engine.begin() as connection:
        await connection.execute(
            text(f"UPDATE {aged} SET expires_at = :past"),  # noqa: S608 (a fixed table name)
            {"past": datetime.now(UTC) - timedelta(seconds=1)},
        )

    response = await client.post("/api/session/refresh")

    assert response.status_code == 401
    assert "expired" in response.json()["message"]
    if aged == "sessions":  # its access tokens end with it
        assert (await client.get("/api/user")).status_code == 401


async def test_no_access_token_outlives_its_session(
    client: httpx.AsyncClient, app: FastAPI, account: Account
) -> None:
    """The tasks service forgets a revocation once the session is over: a token that lived
    longer would be accepted again after that."""
    ends_at = datetime.now(UTC) + timedelta(minutes=2)
    async with app.state.database.engine.begin() as connection:
        await connection.execute(text("UPDATE sessions SET expires_at = :end"), {"end": ends_at})

    response = await client.post("/api/session/refresh")

    assert response.status_code == 200
    claims = claims_of(response.json()["access_token"])
    assert claims["exp"] <= ends_at.timestamp()
    assert claims["exp"] >= (ends_at - timedelta(seconds=5)).timestamp()
