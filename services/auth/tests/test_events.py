"""Auth's events reach RabbitMQ through the outbox, and requests never wait for the broker."""

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from devsupport.accounts import PASSWORD
from tests.support.database import fetch_all
from tests.support.rabbitmq import observe_events
from tests.support.tcp_proxy import TcpProxy, rabbitmq_proxy
from tracker_auth.main import create_app
from tracker_contracts import UserRegistered, parse_envelope

from .conftest import make_settings
from .support import BASE_URL


@pytest.fixture
async def proxy() -> AsyncIterator[TcpProxy]:
    async with rabbitmq_proxy() as proxy:
        yield proxy


@pytest.fixture
async def app_behind_proxy(app: FastAPI, keys_dir: Path, proxy: TcpProxy) -> AsyncIterator[FastAPI]:
    """A second auth process whose only way to the broker is the proxy. The shared test
    app's relay is paused meanwhile: as another replica, it would publish the rows."""
    url = proxy.through(os.environ["RABBITMQ_URL"])
    application = create_app(make_settings(keys_dir, rabbitmq_url=url))
    await app.state.outbox.stop()
    try:
        async with LifespanManager(application):
            yield application
    finally:
        await app.state.outbox.start()


async def test_registration_publishes_user_registered(client: httpx.AsyncClient) -> None:
    async with observe_events("user.registered") as observed:
        response = await client.post(
            "/api/user", json={"email": "ada@example.com", "password": PASSWORD}
        )
        await observed.wait_for(1)

    [message] = [m for m in observed.messages if response.json()["id"].encode() in m.body]
    envelope = parse_envelope(message.body)
    assert isinstance(envelope.data, UserRegistered)
    assert str(envelope.data.user_id) == response.json()["id"]
    assert message.message_id == str(envelope.event_id)
    assert message.content_type == "application/json"
    assert message.headers["x-request-id"] == response.headers["x-request-id"]


async def test_registration_succeeds_while_the_broker_is_unreachable(
    app_behind_proxy: FastAPI, proxy: TcpProxy
) -> None:
    transport = httpx.ASGITransport(app=app_behind_proxy)
    async with (
        observe_events("user.registered") as observed,
        httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client,
    ):
        await proxy.cut()
        responses = [
            await client.post(
                "/api/user", json={"email": f"user{n}@example.com", "password": PASSWORD}
            )
            for n in range(5)
        ]
        assert [response.status_code for response in responses] == [200] * 5
        ready = await client.get("/readyz")
        assert ready.status_code == 200  # still serving: the outbox holds the events
        assert ready.json()["checks"]["outbox"]["pending"] >= 1
        ours = {response.json()["id"] for response in responses}

        def published() -> list[str]:
            """Our users' events seen so far (other tests may publish in this vhost)."""
            ids = [str(parse_envelope(m.body).data.user_id) for m in observed.messages]  # type: ignore[attr-defined]
            return sorted(user_id for user_id in ids if user_id in ours)

        assert published() == []
        await proxy.start()
        async with asyncio.timeout(30):
            while len(published()) < len(ours):
                await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)

    assert published() == sorted(ours)
    rows = await fetch_all(app_behind_proxy, "SELECT published_at FROM outbox")
    assert all(row["published_at"] is not None for row in rows)
