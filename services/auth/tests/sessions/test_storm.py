"""A storm of logins leaves the database pool to everyone else: a login hashes the
password holding no connection, and never waits for a second connection while holding a
first. With a pool of two, many more logins at once than it has connections all succeed."""

import asyncio
from pathlib import Path

import httpx
from asgi_lifespan import LifespanManager

from devsupport.accounts import PASSWORD, register
from tracker_auth.main import create_app

from ..conftest import make_settings
from ..support import BASE_URL

PEOPLE = 5
LOGINS_EACH = 8


async def test_logins_at_once_beyond_the_pool_all_succeed(keys_dir: Path) -> None:
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
