"""Two tabs refreshing with the same cookie at once both stay logged in; a replay later
still ends the session."""

import asyncio
import base64
from datetime import timedelta

import httpx
from fastapi import FastAPI

from ..support import BASE_URL, Account, fetch_all
from .test_sessions import age_rotations, bearer


def tab(app: FastAPI, refresh_token: str) -> httpx.AsyncClient:
    """Another tab of the same browser: its own client holding the same refresh cookie."""
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 40001))
    http = httpx.AsyncClient(transport=transport, base_url=BASE_URL)
    http.cookies.set("tt_refresh", refresh_token, path="/api/session")
    return http


async def test_two_tabs_refreshing_at_once_both_stay_logged_in(
    client: httpx.AsyncClient, app: FastAPI, account: Account
) -> None:
    cookie = client.cookies["tt_refresh"]
    async with tab(app, cookie) as first, tab(app, cookie) as second:
        answers = await asyncio.gather(
            first.post("/api/session/refresh"), second.post("/api/session/refresh")
        )

    assert [answer.status_code for answer in answers] == [200, 200]
    successors = {answer.cookies["tt_refresh"] for answer in answers}
    assert len(successors) == 1  # the same new refresh token for both tabs
    assert cookie not in successors
    for answer in answers:
        assert answer.headers["Cache-Control"] == "no-store"
        me = await client.get("/api/user", headers=bearer(answer.json()["access_token"]))
        assert me.status_code == 200
    [session] = await fetch_all(app, "SELECT revoked_at FROM sessions")
    assert session["revoked_at"] is None
    assert await fetch_all(app, "SELECT id FROM outbox WHERE event_type = 'session.revoked'") == []

    async with tab(app, successors.pop()) as later:  # the shared successor goes on rotating
        assert (await later.post("/api/session/refresh")).status_code == 200


async def test_only_the_immediately_previous_token_gets_the_grace(
    client: httpx.AsyncClient, app: FastAPI, account: Account
) -> None:
    first = client.cookies["tt_refresh"]
    assert (await client.post("/api/session/refresh")).status_code == 200
    assert (await client.post("/api/session/refresh")).status_code == 200

    async with tab(app, first) as stale:
        replay = await stale.post("/api/session/refresh")

    assert replay.status_code == 401
    [session] = await fetch_all(app, "SELECT revoked_reason FROM sessions")
    assert session["revoked_reason"] == "reuse"


async def test_a_replay_after_the_grace_ends_the_session(
    client: httpx.AsyncClient, app: FastAPI, account: Account
) -> None:
    previous = client.cookies["tt_refresh"]
    rotated = await client.post("/api/session/refresh")
    assert rotated.status_code == 200
    await age_rotations(app, by=timedelta(seconds=31))

    async with tab(app, previous) as replaying:
        replay = await replaying.post("/api/session/refresh")

    assert replay.status_code == 401
    me = await client.get("/api/user", headers=bearer(rotated.json()["access_token"]))
    assert me.status_code == 401
    revoked = await fetch_all(app, "SELECT id FROM outbox WHERE event_type = 'session.revoked'")
    assert len(revoked) == 1


async def test_the_database_alone_yields_no_refresh_token(
    client: httpx.AsyncClient, app: FastAPI, account: Account
) -> None:
    """What is stored of the successor is sealed with the predecessor, which is stored only
    as a digest: nothing in the table is a token that refreshes."""
    assert (await client.post("/api/session/refresh")).status_code == 200
    rows = await fetch_all(app, "SELECT token_hash, successor_sealed FROM refresh_tokens")
    for row in rows:
        for stored in (row["token_hash"], row["successor_sealed"]):
            if not isinstance(stored, bytes):
                continue
            token = base64.urlsafe_b64encode(stored).rstrip(b"=").decode()
            async with tab(app, token) as guess:
                assert (await guess.post("/api/session/refresh")).status_code == 401
