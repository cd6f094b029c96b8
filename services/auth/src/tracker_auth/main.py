"""The auth service's application."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI

from tracker_auth.caching import NoStoreByDefault
from tracker_auth.clients.router import router as clients_router
from tracker_auth.config import Settings, get_settings
from tracker_auth.context import AuthContext
from tracker_auth.db import outbox
from tracker_auth.keys import load_key_ring
from tracker_auth.passwords import PasswordHasher
from tracker_auth.sessions.router import jwks_router
from tracker_auth.sessions.router import router as sessions_router
from tracker_auth.sessions.service import forget_expired
from tracker_auth.users import unsubscribe
from tracker_auth.users.router import password_reset_router
from tracker_auth.users.router import router as users_router
from tracker_runtime.background import BackgroundLoops, every
from tracker_runtime.database import Database
from tracker_runtime.logging import configure_logging
from tracker_runtime.messaging import new_broker
from tracker_runtime.relay import OutboxRelay
from tracker_runtime.tokens import TokenVerifier
from tracker_runtime.web import health_router, prepare_app


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level, json_lines=settings.log_json)
    database = Database(settings.database_url, pool_size=settings.database_pool_size)
    keys = load_key_ring(settings)
    relay = OutboxRelay(database=database, table=outbox, broker=new_broker(settings.rabbitmq_url))
    housekeeping = BackgroundLoops()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.context = AuthContext(
            settings=settings,
            database=database,
            keys=keys,
            verifier=TokenVerifier(keys, issuer=settings.issuer, audience=settings.audience),
            hasher=PasswordHasher(settings),
        )
        app.state.database = database
        app.state.relay = relay
        await relay.start()
        housekeeping.start(
            {
                "auth-retention": every(
                    settings.cleanup_interval,
                    partial(forget_expired, database, settings),
                    "auth retention",
                )
            }
        )
        try:
            yield
        finally:
            await housekeeping.cancel()
            await relay.stop()
            await database.dispose()

    app = FastAPI(
        title="task-tracker auth",
        summary="Accounts, sessions and access tokens",
        version="1.0.0",
        lifespan=lifespan,
    )
    # The unsubscribe link is authenticated by its signed token, never by a cookie, and its
    # one-click POST comes from a mail client, which is another site by nature.
    prepare_app(app, trusted_origins=[settings.public_url], cross_site_paths=[unsubscribe.PATH])
    app.add_middleware(NoStoreByDefault)
    app.include_router(users_router)
    app.include_router(password_reset_router)
    app.include_router(unsubscribe.router)
    app.include_router(sessions_router)
    app.include_router(jwks_router)
    app.include_router(clients_router)
    app.include_router(
        health_router({"database": database.ping}, informational={"outbox": relay.readiness})
    )
    return app
