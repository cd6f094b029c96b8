"""The shell of the HTTP services: components run with the application, the health
endpoints report them, and the context is one dependency away."""

import os
from dataclasses import dataclass, field
from typing import Annotated

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import APIRouter, Depends, FastAPI

from tracker_runtime.migrations import ensure_database
from tracker_runtime.service import OnStop, WebService, context_of

DATABASE_URL = os.environ["RUNTIME_TEST_DATABASE_URL"]


@dataclass(frozen=True)
class ShellSettings:
    database_url: str = DATABASE_URL
    database_pool_size: int = 2
    log_level: str = "INFO"
    log_json: bool = False
    public_url: str = "http://localhost:8080"


@dataclass
class Recorder:
    """A component that notes when it starts and stops, in a log shared with others."""

    name: str
    log: list[str]
    fail_on_stop: bool = False
    down: bool = False

    async def start(self) -> None:
        self.log.append(f"start {self.name}")

    async def stop(self) -> None:
        self.log.append(f"stop {self.name}")
        if self.fail_on_stop:
            raise RuntimeError("cannot stop")

    async def readiness(self) -> dict[str, object]:
        if self.down:
            raise ConnectionError("away")
        return {"component": self.name}


@dataclass
class Silent:
    """A component without readiness."""

    log: list[str] = field(default_factory=list)

    async def start(self) -> None:
        self.log.append("start silent")

    async def stop(self) -> None:
        self.log.append("stop silent")


@dataclass(frozen=True)
class Context:
    greeting: str


ContextDep = Annotated[Context, Depends(context_of)]
router = APIRouter()


@router.get("/greeting")
async def greeting(ctx: ContextDep) -> dict[str, str]:
    return {"greeting": ctx.greeting}


@pytest.fixture(scope="module", autouse=True)
async def database() -> None:
    await ensure_database(DATABASE_URL)


def app_with(**components: Recorder | Silent | OnStop) -> FastAPI:
    return WebService(ShellSettings()).app(
        title="shell",
        summary="A service made of parts",
        context=Context(greeting="hello"),
        routers=[router],
        components=components,
    )


async def get(app: FastAPI, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://shell") as client:
        return await client.get(path)


async def test_components_start_in_order_and_stop_in_reverse() -> None:
    log: list[str] = []
    closed: list[str] = []

    async def close() -> None:
        closed.append("closed")

    app = app_with(first=Recorder("first", log), second=Recorder("second", log), own=OnStop(close))
    async with LifespanManager(app):
        assert log == ["start first", "start second"]
        assert app.state.second.name == "second"
        assert set(app.state.components) == {"first", "second", "own"}
    assert log == ["start first", "start second", "stop second", "stop first"]
    assert closed == ["closed"]


async def test_a_failing_stop_does_not_keep_the_others_running() -> None:
    log: list[str] = []
    app = app_with(
        first=Recorder("first", log),
        second=Recorder("second", log, fail_on_stop=True),
        third=Recorder("third", log),
    )
    async with LifespanManager(app):
        pass
    assert log[3:] == ["stop third", "stop second", "stop first"]


async def test_a_failing_start_stops_what_had_started() -> None:
    log: list[str] = []

    class Broken(Recorder):
        async def start(self) -> None:
            raise RuntimeError("cannot start")

    app = app_with(first=Recorder("first", log), broken=Broken("broken", log))
    with pytest.raises(RuntimeError, match="cannot start"):
        async with LifespanManager(app):
            pass  # pragma: no cover
    assert log == ["start first", "stop first"]


async def test_readiness_shows_the_database_and_each_component_by_name() -> None:
    log: list[str] = []
    app = app_with(
        relay=Recorder("relay", log), consumer=Recorder("consumer", log, down=True), quiet=Silent()
    )
    async with LifespanManager(app):
        response = await get(app, "/readyz")
        alive = await get(app, "/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {
            "database": {"status": "up"},
            "relay": {"status": "up", "component": "relay"},
            "consumer": {"status": "down", "error": "ConnectionError"},
        },
    }
    assert alive.json() == {"status": "ok"}


async def test_routes_reach_the_context() -> None:
    app = app_with()
    async with LifespanManager(app):
        response = await get(app, "/greeting")
    assert response.json() == {"greeting": "hello"}
    assert response.headers["x-request-id"]


def test_component_names_must_not_hide_the_shell_state() -> None:
    with pytest.raises(ValueError, match="reserved"):
        app_with(context=Silent())
