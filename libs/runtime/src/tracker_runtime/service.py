"""The shell of every HTTP service: logging, the database, the lifespan, the shared
middleware and the health endpoints, written once.

A service's ``create_app`` says what it has, not how to run it::

    service = WebService(settings)
    relay = OutboxRelay(database=service.database, table=outbox, broker=...)
    return service.app(
        title="...",
        summary="...",
        context=MyContext(settings=settings, database=service.database, ...),
        routers=[...],
        components={"outbox": relay},
    )

Every service also serves ``/metrics`` (``tracker_runtime.http_metrics``): its requests,
and whatever its components count (the relay's backlog, the consumer's events).

Components are what runs beside the requests (the outbox relay, event consumers, periodic
jobs): started in the given order when the application starts, stopped in reverse when it
stops, then the database pool is closed. A component that has ``readiness()`` reports it
under its name in ``/readyz``, informationally: only the database makes a service unready.
Each is also reachable as ``app.state.<name>``, beside ``app.state.context`` and
``app.state.database``.
"""

import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, Protocol, runtime_checkable

from fastapi import APIRouter, FastAPI, Request

from tracker_runtime.database import Database
from tracker_runtime.http_metrics import RequestMetricsMiddleware, metrics_router
from tracker_runtime.logging import configure_logging
from tracker_runtime.web import ReadinessCheck, health_router, prepare_app

logger = logging.getLogger("tracker.service")

RESERVED_NAMES = frozenset({"context", "database", "components"})


class Component(Protocol):
    """Something a service runs beside its requests."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@runtime_checkable
class ReportsReadiness(Protocol):
    """A component that shows its state in ``/readyz`` (details, or raises when down)."""

    async def readiness(self) -> object: ...


class WebServiceSettings(Protocol):
    """What the shell reads from a service's settings."""

    @property
    def log_level(self) -> str: ...

    @property
    def log_json(self) -> bool: ...

    @property
    def public_url(self) -> str: ...

    @property
    def database_url(self) -> str: ...

    @property
    def database_pool_size(self) -> int: ...


class OnStop:
    """A component that only releases something when the service stops (a client it owns)."""

    def __init__(self, release: Callable[[], Awaitable[object]]) -> None:
        self._release = release

    async def start(self) -> None:
        return

    async def stop(self) -> None:
        await self._release()


class WebService:
    """One HTTP service: configures logging and opens the database pool when created (so
    that everything built next logs as the service does), then builds the application."""

    def __init__(self, settings: WebServiceSettings) -> None:
        configure_logging(settings.log_level, json_lines=settings.log_json)
        self.settings = settings
        self.database = Database(settings.database_url, pool_size=settings.database_pool_size)

    def app(
        self,
        *,
        title: str,
        summary: str,
        context: object,
        routers: Sequence[APIRouter],
        components: Mapping[str, Component] | None = None,
        cross_site_paths: Iterable[str] = (),
        version: str = "1.0.0",
    ) -> FastAPI:
        """The application: the routers behind the shared middleware, ``/healthz``,
        ``/readyz`` and ``/metrics`` (every request counted and timed), and a lifespan
        that runs the components. ``cross_site_paths`` are endpoints authenticated by a
        token in the URL, which other sites may post to."""
        components = dict(components or {})
        if clash := RESERVED_NAMES & components.keys():
            raise ValueError(f"component names reserved by the shell: {sorted(clash)}")
        database = self.database

        @asynccontextmanager
        async def lifespan(app: FastAPI) -> AsyncIterator[None]:
            app.state.context = context
            app.state.database = database
            app.state.components = components
            for name, component in components.items():
                setattr(app.state, name, component)
            started: list[tuple[str, Component]] = []
            try:
                for name, component in components.items():
                    await component.start()
                    started.append((name, component))
                freeze_start_up_objects()
                yield
            finally:
                await _stop_all(reversed(started))
                await database.dispose()

        app = FastAPI(title=title, summary=summary, version=version, lifespan=lifespan)
        prepare_app(
            app, trusted_origins=[self.settings.public_url], cross_site_paths=cross_site_paths
        )
        for router in routers:
            app.include_router(router)
        app.include_router(
            health_router({"database": database.ping}, informational=_readiness(components))
        )
        app.include_router(metrics_router())
        app.add_middleware(RequestMetricsMiddleware)  # added last: the outermost
        return app


def _readiness(components: Mapping[str, Component]) -> dict[str, ReadinessCheck]:
    return {
        name: component.readiness
        for name, component in components.items()
        if isinstance(component, ReportsReadiness)
    }


async def _stop_all(components: Iterable[tuple[str, Component]]) -> None:
    """Stop each component; one that fails to stop is logged and the others still stop."""
    for name, component in components:
        try:
            await component.stop()
        except Exception:
            logger.exception("%s failed to stop", name)


def freeze_start_up_objects() -> None:
    """Leave what start-up built (modules, the app, its routes and models, the pools) out
    of the cyclic garbage collector from now on: they live as long as the process, and a
    full collection that walks them all pauses every request in flight for tens of
    milliseconds under load. Once per process (a test run builds many apps)."""
    if gc.get_freeze_count() == 0:
        gc.collect()
        gc.freeze()


async def context_of(request: Request) -> Any:
    """The service's context (``app.state.context``), as a dependency: a service declares
    ``ContextDep = Annotated[MyContext, Depends(context_of)]`` once, in its ``deps.py``.
    (``async`` like every dependency here: FastAPI runs a plain ``def`` in its thread
    pool, a hand-over and back on every request.)"""
    return request.app.state.context
