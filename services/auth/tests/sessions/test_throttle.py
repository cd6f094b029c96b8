from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from ..support import PASSWORD, Account

ACCOUNT_LIMIT = 5  # login_max_failures_per_account in the test settings
IP_LIMIT = 12  # login_max_failures_per_ip


async def fail_login(client: httpx.AsyncClient, email: str) -> httpx.Response:
    return await client.post("/api/session", json={"email": email, "password": "wrong password"})


async def test_many_wrong_passwords_lock_the_account_for_a_while(
    client: httpx.AsyncClient, account: Account
) -> None:
    statuses = [(await fail_login(client, account.email)).status_code for _ in range(ACCOUNT_LIMIT)]
    assert statuses == [401] * ACCOUNT_LIMIT

    locked = await client.post("/api/session", json={"email": account.email, "password": PASSWORD})

    assert locked.status_code == 429
    assert locked.json()["message"]
    retry_after = int(locked.headers["Retry-After"])
    assert 0 < retry_after <= 15 * 60


async def test_the_lock_is_per_account(client: httpx.AsyncClient, account: Account) -> None:
    for _ in range(ACCOUNT_LIMIT):
        await fail_login(client, account.email)
    other = await client.post("/api/user", json={"email": "bob@example.com", "password": PASSWORD})
    assert other.status_code == 200

    response = await client.post(
        "/api/session", json={"email": "bob@example.com", "password": PASSWORD}
    )

    assert response.status_code == 200


async def test_a_successful_login_clears_the_account_failures(
    client: httpx.AsyncClient, account: Account
) -> None:
    for _ in range(ACCOUNT_LIMIT - 1):
        await fail_login(client, account.email)
    ok = await client.post("/api/session", json={"email": account.email, "password": PASSWORD})
    assert ok.status_code == 200

    statuses = [(await fail_login(client, account.email)).status_code for _ in range(ACCOUNT_LIMIT)]

    assert statuses == [401] * ACCOUNT_LIMIT


async def test_many_failures_from_one_address_lock_that_address(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    for attempt in range(IP_LIMIT):
        response = await fail_login(client, f"guess{attempt}@example.com")
        assert response.status_code == 401

    response = await fail_login(client, "another-guess@example.com")
    assert response.status_code == 429

    elsewhere = httpx.ASGITransport(app=app, client=("198.51.100.9", 40000))
    async with httpx.AsyncClient(transport=elsewhere, base_url=client.base_url) as other:
        assert (await fail_login(other, "another-guess@example.com")).status_code == 401


async def test_the_lock_ends_with_its_window(
    client: httpx.AsyncClient, app: FastAPI, account: Account
) -> None:
    for _ in range(ACCOUNT_LIMIT):
        await fail_login(client, account.email)
    async with app.state.database.engine.begin() as connection:
        await connection.execute(
            text("UPDATE rate_limits SET window_started_at = :then"),
            {"then": datetime.now(UTC) - timedelta(minutes=16)},
        )

    response = await client.post(
        "/api/session", json={"email": account.email, "password": PASSWORD}
    )

    assert response.status_code == 200


async def test_counts_are_shared_through_the_database(
    client: httpx.AsyncClient, app: FastAPI, account: Account
) -> None:
    """Another replica (here: another client of the same database) sees the same counts."""
    for _ in range(ACCOUNT_LIMIT):
        await fail_login(client, account.email)
    async with app.state.database.engine.connect() as connection:
        failures = (await connection.execute(text("SELECT max(hits) FROM rate_limits"))).scalar()
    assert failures == ACCOUNT_LIMIT
