"""Fixtures: the auth app on a real PostgreSQL test database, emptied before every test."""

import os
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import text

from tracker_auth.config import Settings
from tracker_auth.context import AuthContext
from tracker_auth.main import create_app
from tracker_auth.prestart import MIGRATIONS
from tracker_runtime.migrations import prepare

from .support import BASE_URL, PASSWORD, Account

TEST_DATABASE_URL = os.environ["AUTH_TEST_DATABASE_URL"]
TABLES = ("users", "sessions", "refresh_tokens", "account_tokens", "rate_limits", "outbox")


def make_settings(keys_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": TEST_DATABASE_URL,
        "development_keys_dir": keys_dir,
        "public_url": BASE_URL,
        "rabbitmq_url": os.environ["RABBITMQ_URL"],
        "login_max_failures_per_account": 5,
        "login_max_failures_per_ip": 12,
        "login_failure_window": timedelta(minutes=15),
        **overrides,
    }
    return Settings.model_validate(values)


@pytest.fixture(scope="session")
def keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("keys")


@pytest.fixture(scope="session")
def settings(keys_dir: Path) -> Settings:
    prepare(MIGRATIONS, TEST_DATABASE_URL)
    return make_settings(keys_dir)


@pytest.fixture(scope="package")
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with LifespanManager(application):
        yield application


@pytest.fixture
def context(app: FastAPI) -> AuthContext:
    ctx: AuthContext = app.state.context
    return ctx


@pytest.fixture(autouse=True)
async def empty_tables(app: FastAPI) -> None:
    async with app.state.database.engine.begin() as connection:
        await connection.execute(text(f"TRUNCATE {', '.join(TABLES)} CASCADE"))


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
        yield http


@pytest.fixture
async def account(client: httpx.AsyncClient) -> Account:
    """A registered user; the client holds their session cookies."""
    response = await client.post(
        "/api/user", json={"email": "ada@example.com", "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    return Account(body["id"], body["email"], PASSWORD, body["access_token"])
