"""The tasks service's application: ``uvicorn --factory tracker_tasks.main:create_app``."""

import httpx
from fastapi import FastAPI

from tracker_runtime.broadcast import ReplicaConsumer
from tracker_runtime.consumer import EventConsumer
from tracker_runtime.jwks import RemoteKeySet
from tracker_runtime.messaging import new_broker
from tracker_runtime.relay import OutboxRelay
from tracker_runtime.service import OnStop, WebService
from tracker_runtime.tokens import TokenVerifier
from tracker_tasks.config import Settings, get_settings
from tracker_tasks.context import TasksContext
from tracker_tasks.db import outbox
from tracker_tasks.events.subscriptions import LIVE_SUBSCRIPTIONS, SUBSCRIPTIONS
from tracker_tasks.live.cleanup import ExpiredChanges
from tracker_tasks.live.hub import StreamHub
from tracker_tasks.live.router import router as live_router
from tracker_tasks.revocations.cleanup import ExpiredRevocations
from tracker_tasks.revocations.known import RevokedSessions
from tracker_tasks.summaries.router import router as summaries_router
from tracker_tasks.tasks.router import router as tasks_router


def create_app(
    settings: Settings | None = None, *, jwks_client: httpx.AsyncClient | None = None
) -> FastAPI:
    """The application. ``jwks_client`` is how the public keys are fetched from auth (by
    default a client of its own, closed on shutdown; a given one stays the caller's)."""
    settings = settings or get_settings()
    service = WebService(settings)
    database = service.database
    keys = RemoteKeySet(settings.jwks_url, client=jwks_client)
    streams = StreamHub(
        database=database,
        keepalive_interval=settings.stream_keepalive_interval,
        # Half the pool at most: requests keep the rest whatever the streams do.
        concurrent_reads=max(1, settings.database_pool_size // 2),
    )
    revocations = RevokedSessions(database=database, grace=settings.revocation_grace)
    context = TasksContext(
        settings=settings,
        database=database,
        verifier=TokenVerifier(keys, issuer=settings.issuer, audience=settings.audience),
        streams=streams,
        revocations=revocations,
    )

    async def on_subscribed(reconnected: bool) -> None:
        await revocations.subscribed()
        await streams.on_broker_connected(reconnected)

    return service.app(
        title="task-tracker tasks",
        summary="A person's tasks, and task summaries for the digest",
        context=context,
        # The stream first: /api/tasks/events is not a task id.
        routers=[live_router, tasks_router, summaries_router],
        # Both the relay and the consumer connect to RabbitMQ in the background: without the
        # broker the service still starts and serves (events wait in the outbox, revocations
        # in the queue).
        components={
            # First, so stopped last (components stop in reverse order).
            "jwks": OnStop(keys.aclose),
            "outbox": OutboxRelay(
                database=database, table=outbox, broker=new_broker(settings.rabbitmq_url)
            ),
            "session_events": EventConsumer(
                SUBSCRIPTIONS,
                database=database,
                rabbitmq_url=settings.rabbitmq_url,
                max_backoff=settings.broker_max_backoff,
            ),
            "streams": streams,
            "revocations": revocations,
            "live_events": ReplicaConsumer(
                LIVE_SUBSCRIPTIONS,
                context,
                rabbitmq_url=settings.rabbitmq_url,
                on_connected=on_subscribed,
                on_lost=revocations.lost,
                max_backoff=settings.broker_max_backoff,
            ),
            "expired_changes": ExpiredChanges(
                database=database,
                interval=settings.stream_cleanup_interval,
                retention=settings.stream_retention,
            ),
            "expired_revocations": ExpiredRevocations(
                database=database,
                interval=settings.revocation_cleanup_interval,
                grace=settings.revocation_grace,
            ),
        },
    )
