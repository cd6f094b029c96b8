"""Registrations and login guesses are limited, and counted before the work is done."""

import asyncio

import httpx
from fastapi import FastAPI

from ..support import PASSWORD, Account, fetch_all
from ..users.test_password import browser

ACCOUNT_LIMIT = 5  # login_max_failures_per_account in the test settings


async def test_registrations_are_limited_per_client_address(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    limit = app.state.context.settings.registrations_per_ip
    for number in range(limit):
        created = await client.post(
            "/api/user", json={"email": f"user{number}@example.com", "password": PASSWORD}
        )
        assert created.status_code == 200

    refused = await client.post(
        "/api/user", json={"email": "one@example.com", "password": PASSWORD}
    )

    assert refused.status_code == 429
    assert refused.json()["message"]
    assert 0 < int(refused.headers["Retry-After"]) <= 3600
    assert await fetch_all(app, "SELECT id FROM users WHERE email = 'one@example.com'") == []
    async with browser(app, "198.51.100.30") as elsewhere:
        other = await elsewhere.post(
            "/api/user", json={"email": "one@example.com", "password": PASSWORD}
        )
    assert other.status_code == 200


async def test_registrations_are_limited_per_target_address(
    client: httpx.AsyncClient, app: FastAPI, account: Account
) -> None:
    limit = app.state.context.settings.registrations_per_address
    statuses = []
    for number in range(limit):  # the first registration was the account's own
        async with browser(app, f"198.51.100.{number + 40}") as somewhere:
            answer = await somewhere.post(
                "/api/user", json={"email": account.email.upper(), "password": PASSWORD}
            )
            statuses.append(answer.status_code)

    assert statuses == [409] * (limit - 1) + [429]


async def test_a_burst_of_concurrent_guesses_cannot_all_pass_the_check(
    client: httpx.AsyncClient, app: FastAPI, account: Account
) -> None:
    """Each guess is counted before its password is hashed: of a burst sent at once, only
    as many as the limit are tried."""
    guesses = [
        client.post("/api/session", json={"email": account.email, "password": f"guess {n}"})
        for n in range(ACCOUNT_LIMIT * 3)
    ]

    answers = await asyncio.gather(*guesses)

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [401] * ACCOUNT_LIMIT + [429] * (ACCOUNT_LIMIT * 2)
    login = await client.post("/api/session", json={"email": account.email, "password": PASSWORD})
    assert login.status_code == 429


async def test_a_successful_login_does_not_count_against_its_client_address(
    client: httpx.AsyncClient, app: FastAPI, account: Account
) -> None:
    for _ in range(20):
        login = await client.post(
            "/api/session", json={"email": account.email, "password": PASSWORD}
        )
        assert login.status_code == 200
    [row] = await fetch_all(app, "SELECT hits FROM rate_limits WHERE key LIKE 'login-ip:%'")
    assert row["hits"] == 0
