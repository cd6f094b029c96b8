"""A request whose database is away, or whose pool is exhausted, gets a 503 with
``Retry-After`` and the pinned error body, never a 500; the service answers again once the
database is back. Against the real PostgreSQL and a closed port."""

import asyncio
import os
from dataclasses import dataclass, replace

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import APIRouter, FastAPI
from sqlalchemy import make_url, text

from devsupport.network import free_port
from tracker_runtime import database as pooling
from tracker_runtime.database import libpq_dsn
from tracker_runtime.errors import DATABASE_AWAY
from tracker_runtime.migrations import ensure_database
from tracker_runtime.service import WebService
from tracker_runtime.web import SessionDep

DATABASE_URL = os.environ["RUNTIME_TEST_DATABASE_URL"]


@dataclass(frozen=True)
class AwaySettings:
    database_url: str = DATABASE_URL
    database_pool_size: int = 1
    log_level: str = "INFO"
    log_json: bool = False
    public_url: str = "http://localhost:8080"


router = APIRouter()


@router.get("/now")
async def now(db: SessionDep) -> dict[str, str]:
    return {"now": str(await db.scalar(text("SELECT now()")))}


@router.get("/backend")
async def backend(db: SessionDep) -> int:
    pid: int = await db.scalar(text("SELECT pg_backend_pid()"))
    return pid


async def terminate(pid: int) -> None:
    """End one server process, as PostgreSQL does on a restart or an operator's command."""
    connection = await asyncpg.connect(libpq_dsn(DATABASE_URL))
    try:
        await connection.execute("SELECT pg_terminate_backend($1)", pid)
    finally:
        await connection.close()


@pytest.fixture(scope="module", autouse=True)
async def database() -> None:
    await ensure_database(DATABASE_URL)


def service(settings: AwaySettings) -> FastAPI:
    return WebService(settings).app(
        title="away", summary="A service whose database may be away", context=None, routers=[router]
    )


async def test_a_database_that_refuses_connections_is_a_503() -> None:
    closed = make_url(DATABASE_URL).set(host="127.0.0.1", port=free_port())
    app = service(replace(AwaySettings(), database_url=closed.render_as_string(False)))
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://away") as client:
            response = await client.get("/now")

    assert response.status_code == 503
    assert response.json() == {"message": DATABASE_AWAY}
    assert int(response.headers["Retry-After"]) > 0


async def test_an_exhausted_pool_is_a_503_and_the_service_answers_again_after() -> None:
    app = service(AwaySettings())
    async with LifespanManager(app):
        engine = app.state.database.engine
        # The pool's one connection, held by someone else; the pool opens no more.
        held = [await engine.connect()]
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://away") as client:
            try:
                refused = await client.get("/now")
            finally:
                await asyncio.gather(*(connection.close() for connection in held))
            again = await client.get("/now")

    assert refused.status_code == 503
    assert refused.json() == {"message": DATABASE_AWAY}
    assert "Retry-After" in refused.headers
    assert again.status_code == 200


async def backends_after_ending_one(
    *, rest_s: float, requests: int
) -> tuple[int, list[httpx.Response]]:
    """The server process of a first request, ended after it; then, ``rest_s`` later, the
    answers of ``requests`` more asking for theirs."""
    app = service(AwaySettings())
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://away") as client:
            first: int = (await client.get("/backend")).json()
            await terminate(first)
            await asyncio.sleep(rest_s)
            return first, [await client.get("/backend") for _ in range(requests)]


async def test_a_connection_ended_while_it_rested_is_replaced_unnoticed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pooling, "PING_AFTER_IDLE_S", 0.1)
    first, [again] = await backends_after_ending_one(rest_s=0.3, requests=1)

    assert again.status_code == 200
    assert again.json() != first


async def test_a_connection_ended_while_in_constant_use_fails_one_request_with_a_503(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A connection in constant use is not pinged: the request that finds it gone gets a
    503 (never a 500), and the pool is renewed for the next."""
    monkeypatch.setattr(pooling, "PING_AFTER_IDLE_S", 60.0)
    first, [failed, again] = await backends_after_ending_one(rest_s=0.1, requests=2)

    assert failed.status_code == 503
    assert failed.json() == {"message": DATABASE_AWAY}
    assert again.status_code == 200
    assert again.json() != first


@router.get("/ended")
async def ended(db: SessionDep) -> dict[str, str]:
    """What a request meets when an operator (or a failover) ends its connection under it."""
    await db.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
    return {"ended": "no"}


async def test_a_connection_ended_under_a_statement_is_a_503_and_the_next_request_works() -> None:
    app = service(AwaySettings())
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://away") as client:
            ended_under_it = await client.get("/ended")
            again = await client.get("/now")

    assert ended_under_it.status_code == 503
    assert ended_under_it.json() == {"message": DATABASE_AWAY}
    assert again.status_code == 200
