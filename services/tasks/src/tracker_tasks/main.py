"""The tasks service's application: ``uvicorn --factory tracker_tasks.main:create_app``."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from tracker_runtime.consumer import EventConsumer
from tracker_runtime.database import Database
from tracker_runtime.jwks import RemoteKeySet
from tracker_runtime.logging import configure_logging
from tracker_runtime.messaging import new_broker
from tracker_runtime.relay import OutboxRelay
from tracker_runtime.tokens import TokenVerifier
from tracker_runtime.web import health_router, prepare_app
from tracker_tasks.config import Settings, get_settings
from tracker_tasks.context import TasksContext
from tracker_tasks.db import outbox
from tracker_tasks.events.subscriptions import SUBSCRIPTIONS
from tracker_tasks.revocations.cleanup import ExpiredRevocations
from tracker_tasks.summaries.router import router as summaries_router
from tracker_tasks.tasks.router import router as tasks_router


def create_app(
    settings: Settings | None = None, *, jwks_client: httpx.AsyncClient | None = None
) -> FastAPI:
    """The application. ``jwks_client`` is how the public keys are fetched from auth (by
    default a client of its own, closed on shutdown; a given one stays the caller's)."""
    settings = settings or get_settings()
    configure_logging(settings.log_level, json_lines=settings.log_json)
    database = Database(settings.database_url, pool_size=settings.database_pool_size)
    keys = RemoteKeySet(settings.jwks_url, client=jwks_client)
    relay = OutboxRelay(database=database, table=outbox, broker=new_broker(settings.rabbitmq_url))
    session_events = EventConsumer(
        SUBSCRIPTIONS,
        database=database,
        rabbitmq_url=settings.rabbitmq_url,
        max_backoff=settings.broker_max_backoff,
    )
    expired_revocations = ExpiredRevocations(
        database=database,
        interval=settings.revocation_cleanup_interval,
        grace=settings.revocation_grace,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.context = TasksContext(
            settings=settings,
            database=database,
            verifier=TokenVerifier(keys, issuer=settings.issuer, audience=settings.audience),
        )
        app.state.database = database
        app.state.relay = relay
        app.state.session_events = session_events
        app.state.expired_revocations = expired_revocations
        # Both connect to RabbitMQ in the background: without the broker the service still
        # starts and serves (events wait in the outbox, revocations in the queue).
        await relay.start()
        await session_events.start()
        await expired_revocations.start()
        try:
            yield
        finally:
            await expired_revocations.stop()
            await session_events.stop()
            await relay.stop()
            if jwks_client is None:
                await keys.aclose()
            await database.dispose()

    app = FastAPI(
        title="task-tracker tasks",
        summary="A person's tasks, and task summaries for the digest",
        version="1.0.0",
        lifespan=lifespan,
    )
    prepare_app(app, trusted_origins=[settings.public_url])
    app.include_router(tasks_router)
    app.include_router(summaries_router)
    app.include_router(
        health_router(
            {"database": database.ping},
            informational={"outbox": relay.readiness, "session_events": session_events.readiness},
        )
    )
    return app
