"""A request whose database is away, or whose pool is exhausted, gets a 503 with
``Retry-After`` and the pinned error body, never a 500; the service answers again once the
database is back. Against the real PostgreSQL and a closed port."""

import asyncio
import os
from dataclasses import dataclass, replace

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import APIRouter, FastAPI
from sqlalchemy import make_url, text

from devsupport.network import free_port
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
        # The pool's one connection and its one overflow, held by someone else.
        held = [await engine.connect(), await engine.connect()]
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
