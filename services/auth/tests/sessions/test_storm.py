"""A storm of password checks leaves the database pool to everyone else: a login, a
password change or an account deletion hashes passwords holding no connection, and never
waits for a second connection while holding a first. With a pool of two, many more of them
at once than it has connections all get their answer."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from asgi_lifespan import LifespanManager

from devsupport.accounts import PASSWORD, register
from tracker_auth.main import create_app

from ..conftest import make_settings
from ..support import BASE_URL

PEOPLE = 5
LOGINS_EACH = 8


@asynccontextmanager
async def pool_of_two(keys_dir: Path) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an auth service whose database pool holds two connections."""
    settings = make_settings(
        keys_dir,
        database_pool_size=2,
        login_max_failures_per_account=1000,
        login_max_failures_per_ip=1000,
    )
    app = create_app(settings)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 40000))
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            yield client


async def test_logins_at_once_beyond_the_pool_all_succeed(keys_dir: Path) -> None:
    async with pool_of_two(keys_dir) as client:
        emails = [f"storm-{number}@example.com" for number in range(PEOPLE)]
        for email in emails:
            await register(client, email)
        answers = await asyncio.gather(
            *(
                client.post("/api/session", json={"email": email, "password": PASSWORD})
                for email in emails
                for _ in range(LOGINS_EACH)
            )
        )

    assert [answer.status_code for answer in answers] == [200] * PEOPLE * LOGINS_EACH


async def test_password_checks_at_once_beyond_the_pool_all_answer(keys_dir: Path) -> None:
    async with pool_of_two(keys_dir) as client:
        accounts = [
            await register(client, f"checks-{number}@example.com") for number in range(PEOPLE)
        ]
        wrong = {"current_password": "not-the-password", "new_password": "a-new-password-1"}
        answers = await asyncio.gather(
            *(
                client.put("/api/user/password", json=wrong, headers=account.headers)
                for account in accounts
                for _ in range(LOGINS_EACH)
            ),
            *(
                client.request(
                    "DELETE",
                    "/api/user",
                    json={"password": "not-the-password"},
                    headers=account.headers,
                )
                for account in accounts
            ),
        )
        changed = await asyncio.gather(
            *(
                client.put(
                    "/api/user/password",
                    json={"current_password": PASSWORD, "new_password": "a-new-password-1"},
                    headers=account.headers,
                )
                for account in accounts
            )
        )

    assert [answer.status_code for answer in answers] == [403] * PEOPLE * (LOGINS_EACH + 1)
    assert [answer.status_code for answer in changed] == [204] * PEOPLE
