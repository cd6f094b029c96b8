"""The auth service's application."""

from functools import partial

from fastapi import FastAPI

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
from tracker_auth.users.router import router as users_router
from tracker_runtime.background import Periodic
from tracker_runtime.messaging import new_broker
from tracker_runtime.relay import OutboxRelay
from tracker_runtime.service import WebService
from tracker_runtime.tokens import TokenVerifier


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    service = WebService(settings)
    database = service.database
    keys = load_key_ring(settings)
    return service.app(
        title="task-tracker auth",
        summary="Accounts, sessions and access tokens",
        context=AuthContext(
            settings=settings,
            database=database,
            keys=keys,
            verifier=TokenVerifier(keys, issuer=settings.issuer, audience=settings.audience),
            hasher=PasswordHasher(settings),
        ),
        routers=[users_router, unsubscribe.router, sessions_router, jwks_router, clients_router],
        components={
            "outbox": OutboxRelay(
                database=database, table=outbox, broker=new_broker(settings.rabbitmq_url)
            ),
            "retention": Periodic(
                "auth retention",
                settings.cleanup_interval,
                partial(forget_expired, database, settings),
            ),
        },
        # The unsubscribe link is authenticated by its signed token, never by a cookie, and
        # its one-click POST comes from a mail client, which is another site by nature.
        cross_site_paths=[unsubscribe.PATH],
    )
