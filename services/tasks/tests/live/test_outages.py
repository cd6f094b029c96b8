"""The live stream when things stop: a replica that loses the broker catches its streams up
when it is back, and a process told to stop (Ctrl-C in `make dev`) ends its streams and
frees its port instead of waiting for them."""

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from devsupport.accounts import Account
from devsupport.network import free_port, wait_until_healthy
from devsupport.processes import spawn, stop_process
from tests.support.tcp_proxy import TcpProxy, rabbitmq_proxy
from tracker_runtime.serve import port_problem
from tracker_tasks.main import create_app

from ..conftest import TEST_DATABASE_URL, jwks_client, make_settings
from ..support import BASE_URL
from .support import Served, serve, stream
from .test_stream import subscribed


@pytest.fixture
async def proxy() -> AsyncIterator[TcpProxy]:
    async with rabbitmq_proxy() as proxy:
        yield proxy


@pytest.fixture
async def replica_behind_proxy(auth_app: FastAPI, proxy: TcpProxy) -> AsyncIterator[Served]:
    url = proxy.through(os.environ["RABBITMQ_URL"])
    async with (
        jwks_client(auth_app) as keys,
        serve(create_app(make_settings(rabbitmq_url=url), jwks_client=keys)) as replica,
    ):
        await subscribed(replica.app)
        yield replica


async def test_streams_catch_up_on_what_they_missed_while_their_replica_lost_the_broker(
    app: FastAPI, replica_behind_proxy: Served, proxy: TcpProxy, alice: Account
) -> None:
    other = replica_behind_proxy
    async with stream(other.url, alice.headers) as events:
        await events.position()
        await proxy.cut()
        async with asyncio.timeout(5):
            while other.app.state.live_events.subscribed:
                await asyncio.sleep(0.02)
        # Through the shared app, whose relay publishes while the replica is away.
        async with http_to(app) as client:
            created = await client.post(
                "/api/tasks", json={"title": "Meanwhile"}, headers=alice.headers
            )
        await proxy.start()
        event = await events.next(timeout=15)
    assert (event.event, event.data) == ("task.created", created.text)


def http_to(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL)


async def test_ctrl_c_ends_open_streams_and_frees_the_port(
    auth_app: FastAPI, alice: Account, tmp_path: Path
) -> None:
    port = free_port()
    async with serve(auth_app, lifespan=False) as auth:
        environment = {
            **os.environ,
            "TASKS_HOST": "127.0.0.1",
            "TASKS_PORT": str(port),
            "TASKS_DATABASE_URL": TEST_DATABASE_URL,
            "TASKS_JWKS_URL": f"{auth.url}/.well-known/jwks.json",
        }
        process = spawn(
            [sys.executable, "-m", "tracker_tasks"],
            log=tmp_path / "tasks.log",
            environment=environment,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            problem = await asyncio.to_thread(wait_until_healthy, f"{url}/healthz", process, 30)
            assert problem is None, (tmp_path / "tasks.log").read_text()
            async with stream(url, alice.headers) as events:
                await events.position()
                process.send_signal(signal.SIGINT)
                asked = time.monotonic()
                await events.until_closed(5)
                await asyncio.to_thread(process.wait, 10)
            assert time.monotonic() - asked < 10
            assert port_problem("127.0.0.1", port, variable="TASKS_PORT") is None
        finally:
            if process.poll() is None:
                stop_process(process, signal_number=signal.SIGKILL)
