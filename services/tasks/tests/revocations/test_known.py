"""Revoked sessions answered from each replica's memory: heard on the replica's own queue,
read from the table at start and after the broker was lost, and asked of the table while
memory may lack one. Through the real RabbitMQ test vhost and PostgreSQL."""

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from devsupport.accounts import Account
from tests.support.database import execute, fetch_all
from tests.support.forged_tokens import claims_of
from tests.support.tcp_proxy import TcpProxy
from tracker_tasks.main import create_app

from ..conftest import jwks_client, make_settings
from ..support import BASE_URL
from .test_revocations import wait_until_refused


async def from_memory(app: FastAPI, expected: bool = True, timeout: float = 10.0) -> None:
    """Wait until the replica answers from memory alone (or, ``expected=False``, no more)."""
    async with asyncio.timeout(timeout):
        while (await app.state.revocations.readiness())["from_memory"] is not expected:
            await asyncio.sleep(0.05)


async def remember_revoked(app: FastAPI, account: Account) -> None:
    """The row the shared queue's consumer writes for a revocation (of any replica)."""
    await execute(
        app,
        "INSERT INTO revoked_sessions (session_id, expires_at) VALUES (:id, :at)",
        id=uuid.UUID(claims_of(account.access_token)["sid"]),
        at=datetime.now(UTC) + timedelta(minutes=15),
    )


def client_of(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL)


async def test_every_replica_hears_of_a_logout_even_when_it_does_not_store_it(
    app: FastAPI, auth: httpx.AsyncClient, alice: Account
) -> None:
    """With the shared queue's consumer stopped, no replica writes the revocation; the
    session still ends here, from what this replica heard on its own queue."""
    await from_memory(app)
    await app.state.session_events.stop()
    try:
        async with client_of(app) as client:
            assert (await client.get("/api/tasks", headers=alice.headers)).status_code == 200
            assert (await auth.delete("/api/session", headers=alice.headers)).status_code == 204
            took = await wait_until_refused(client, alice.access_token)
        assert took < 2
        assert await fetch_all(app, "SELECT 1 FROM revoked_sessions") == []
    finally:
        await app.state.session_events.start()


async def test_a_replica_started_later_knows_the_sessions_revoked_before(
    app: FastAPI, auth_app: FastAPI, alice: Account
) -> None:
    await remember_revoked(app, alice)
    async with jwks_client(auth_app) as keys:
        later = create_app(make_settings(), jwks_client=keys)
        async with LifespanManager(later), client_of(later) as client:
            at_once = await client.get("/api/tasks", headers=alice.headers)
            await from_memory(later)
            settled = await client.get("/api/tasks", headers=alice.headers)

    assert at_once.status_code == 401
    assert settled.status_code == 401


@pytest.fixture
async def proxy() -> AsyncIterator[TcpProxy]:
    proxy = TcpProxy("127.0.0.1", 5672)
    await proxy.start()
    yield proxy
    await proxy.cut()


async def test_a_replica_that_lost_the_broker_asks_the_database(
    app: FastAPI, auth_app: FastAPI, proxy: TcpProxy, alice: Account
) -> None:
    """Away from the broker a replica hears of no logout; whatever another replica stored
    meanwhile still counts, and once subscribed again it answers from memory again."""
    url = proxy.through(os.environ["RABBITMQ_URL"])
    async with jwks_client(auth_app) as keys:
        behind = create_app(make_settings(rabbitmq_url=url), jwks_client=keys)
        async with LifespanManager(behind), client_of(behind) as client:
            await from_memory(behind)
            await proxy.cut()
            await from_memory(behind, expected=False)
            await remember_revoked(app, alice)
            refused = await client.get("/api/tasks", headers=alice.headers)
            await proxy.start()
            await from_memory(behind, timeout=30)
            still = await client.get("/api/tasks", headers=alice.headers)

    assert refused.status_code == 401
    assert still.status_code == 401
