"""Fixtures: the tasks app on a real PostgreSQL test database (emptied before every test)
and the real RabbitMQ test vhost, with the real auth app, in process, issuing the tokens and
serving the JWKS that the tasks app fetches over HTTP."""

import os
from collections.abc import AsyncIterator
from pathlib import Path

import aio_pika
import httpx
import pytest
from asgi_lifespan import LifespanManager
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from devsupport.accounts import Account, register
from devsupport.database import import_models, truncate_statement
from tracker_auth.config import Settings as AuthSettings
from tracker_auth.db import Base as AuthBase
from tracker_auth.main import create_app as create_auth_app
from tracker_auth.prestart import MIGRATIONS as AUTH_MIGRATIONS
from tracker_contracts.internal import SUMMARIES_SCOPE
from tracker_contracts.messaging import TASKS_EVENTS
from tracker_runtime.migrations import prepare
from tracker_tasks.config import Settings
from tracker_tasks.db import Base
from tracker_tasks.main import create_app
from tracker_tasks.prestart import MIGRATIONS

from .support import AUTH_URL, BASE_URL, NOTIFIER_SECRET, STRANGER_SECRET

TEST_DATABASE_URL = os.environ["TASKS_TEST_DATABASE_URL"]
AUTH_TEST_DATABASE_URL = os.environ["TASKS_AUTH_TEST_DATABASE_URL"]
import_models("tracker_tasks")
import_models("tracker_auth")
EMPTY_TABLES = truncate_statement(Base.metadata)
EMPTY_AUTH_TABLES = truncate_statement(AuthBase.metadata, cascade=True)


PREVIOUS_SIGNING_KEY = Ed25519PrivateKey.generate()
"""A key auth signed with before its current one, still published in its JWKS."""


def make_settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": TEST_DATABASE_URL,
        "jwks_url": f"{AUTH_URL}/.well-known/jwks.json",
        "public_url": BASE_URL,
        "rabbitmq_url": os.environ["RABBITMQ_URL"],
        "broker_max_backoff": 1.0,
        **overrides,
    }
    return Settings.model_validate(values)


@pytest.fixture(scope="session")
def auth_settings(tmp_path_factory: pytest.TempPathFactory) -> AuthSettings:
    prepare(AUTH_MIGRATIONS, AUTH_TEST_DATABASE_URL)
    keys_dir: Path = tmp_path_factory.mktemp("keys")
    return AuthSettings.model_validate(
        {
            "database_url": AUTH_TEST_DATABASE_URL,
            "development_keys_dir": keys_dir,
            "public_url": BASE_URL,
            "rabbitmq_url": os.environ["RABBITMQ_URL"],
            "service_clients": {
                "notifier": {"secret": NOTIFIER_SECRET, "scopes": [SUMMARIES_SCOPE]},
                "stranger": {"secret": STRANGER_SECRET, "scopes": ["tasks:other"]},
            },
            "previous_signing_keys": PREVIOUS_SIGNING_KEY.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ).decode(),
            # Cheap hashing: these tests are about tasks, not about passwords.
            "password_memory_cost_kib": 1024,
            "password_time_cost": 1,
        }
    )


@pytest.fixture(scope="session")
def settings() -> Settings:
    prepare(MIGRATIONS, TEST_DATABASE_URL)
    return make_settings()


@pytest.fixture(scope="package")
async def auth_app(auth_settings: AuthSettings) -> AsyncIterator[FastAPI]:
    application = create_auth_app(auth_settings)
    async with LifespanManager(application):
        yield application


def jwks_client(auth_app: FastAPI) -> httpx.AsyncClient:
    """How the tasks app reaches auth's JWKS: over HTTP, into the in-process auth app."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=auth_app), base_url=AUTH_URL)


async def purge_session_events() -> None:
    """Drop session events that other test suites (auth's) left in the shared test vhost,
    so that they do not trickle into this suite's revoked_sessions while it runs."""
    connection = await aio_pika.connect(os.environ["RABBITMQ_URL"])
    async with connection:
        channel = await connection.channel()
        await (await channel.get_queue(TASKS_EVENTS.name)).purge()


# Package scope: the app's subscriber must stop consuming tasks.sessions once these tests
# are done, or it would take revocations meant for the end-to-end stack that runs later.
@pytest.fixture(scope="package")
async def app(settings: Settings, auth_app: FastAPI) -> AsyncIterator[FastAPI]:
    await purge_session_events()
    async with jwks_client(auth_app) as keys_client:
        application = create_app(settings, jwks_client=keys_client)
        async with LifespanManager(application):
            yield application


DEADLOCK_DETECTED = "40P01"


async def empty(engine: AsyncEngine, statement: str) -> None:
    """Run ``statement`` (a TRUNCATE), again if PostgreSQL chose it as a deadlock's victim:
    a consumer of an earlier test's events (a revoked session, say) may still be writing,
    and TRUNCATE locks table after table."""
    for attempt in range(5):
        try:
            async with engine.begin() as connection:
                await connection.exec_driver_sql(statement)
            return
        except DBAPIError as error:
            if getattr(error.orig, "sqlstate", None) != DEADLOCK_DETECTED or attempt == 4:
                raise


@pytest.fixture(autouse=True)
async def empty_tables(app: FastAPI, auth_app: FastAPI) -> None:
    await empty(app.state.database.engine, EMPTY_TABLES)
    await empty(auth_app.state.database.engine, EMPTY_AUTH_TABLES)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
        yield http


@pytest.fixture
async def auth(auth_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=auth_app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
        yield http


@pytest.fixture
async def alice(auth: httpx.AsyncClient) -> Account:
    return await register(auth, "alice@example.com")


@pytest.fixture
async def bob(auth: httpx.AsyncClient) -> Account:
    return await register(auth, "bob@example.com")
