"""Serving apps over real HTTP inside the test's event loop (the live stream needs a real
server: an in-process ASGI transport buffers whole responses), and reading Server-Sent
Events from them."""

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from tracker_runtime.serve import Server, listen_socket


class InProcessServer(Server):
    """The services' server, without taking over the test process's signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass
class Served:
    app: FastAPI
    url: str
    server: InProcessServer
    task: "asyncio.Task[None]"

    async def stop(self) -> None:
        self.server.should_exit = True
        await asyncio.wait_for(self.task, timeout=10)


@contextlib.asynccontextmanager
async def serve(app: FastAPI, *, lifespan: bool = True) -> AsyncIterator[Served]:
    """``app`` on a free port of 127.0.0.1, its lifespan run by the server (or not, for an
    app whose lifespan runs already)."""
    sock = listen_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, lifespan="on" if lifespan else "off", log_config=None, timeout_graceful_shutdown=5
    )
    server = InProcessServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    async with asyncio.timeout(15):
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
    served = Served(app=app, url=f"http://127.0.0.1:{port}", server=server, task=task)
    try:
        yield served
    finally:
        if not task.done():
            await served.stop()
        sock.close()


@dataclass
class Event:
    event: str
    id: str | None
    data: str

    def json(self) -> Any:
        return json.loads(self.data)


@dataclass
class EventReader:
    """Parses a ``text/event-stream`` response as a browser's EventSource does (events with
    data are dispatched; an ``id`` alone only moves the position)."""

    response: httpx.Response
    last_id: str | None = None
    comments: list[str] = field(default_factory=list)
    _lines: AsyncIterator[str] | None = None

    async def next(self, timeout: float = 5.0) -> Event:
        """The next dispatched event; raises ``EOFError`` when the stream ends first."""
        if self._lines is None:
            self._lines = self.response.aiter_lines()
        name, data, seen_id = "message", list[str](), False
        async with asyncio.timeout(timeout):
            async for line in self._lines:
                if line == "":
                    if data:
                        return Event(name, self.last_id, "\n".join(data))
                    name, data = "message", []
                    continue
                key, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if key == "":
                    self.comments.append(value)
                elif key == "event":
                    name = value
                elif key == "data":
                    data.append(value)
                elif key == "id":
                    self.last_id, seen_id = value, True
            raise EOFError(f"the stream ended (an id seen last: {seen_id})")

    async def position(self, timeout: float = 5.0) -> str:
        """The id the stream opened at, from its first event (``ready``)."""
        event = await self.next(timeout)
        assert event.event == "ready", event
        assert event.id is not None
        return event.id

    async def until_closed(self, timeout: float) -> None:
        """Read until the server ends the stream; every event before is dropped."""
        with contextlib.suppress(EOFError):
            while True:
                await self.next(timeout)


@contextlib.asynccontextmanager
async def stream(
    url: str, headers: dict[str, str], params: dict[str, str] | None = None
) -> AsyncIterator[EventReader]:
    async with (
        httpx.AsyncClient(base_url=url, timeout=httpx.Timeout(10, read=30)) as client,
        client.stream("GET", "/api/tasks/events", headers=headers, params=params) as response,
    ):
        assert response.status_code == 200, (await response.aread()).decode()
        assert response.headers["content-type"].startswith("text/event-stream")
        yield EventReader(response)
