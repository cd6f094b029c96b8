"""Service tokens (client credentials) for internal APIs."""

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import jwt
import pytest
from asgi_lifespan import LifespanManager
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from pydantic import ValidationError

from devsupport.accounts import Account, basic, bearer, service_token
from tracker_auth.main import create_app
from tracker_runtime.errors import APIError
from tracker_runtime.tokens import InvalidToken

from .conftest import make_settings
from .support import BASE_URL

CLIENTS = {"notifier": {"secret": "dev-notifier-secret", "scopes": ["tasks:summaries"]}}


@pytest.fixture
async def clients_app(keys_dir: Path) -> AsyncIterator[FastAPI]:
    application = create_app(make_settings(keys_dir, service_clients=CLIENTS))
    async with LifespanManager(application):
        yield application


@pytest.fixture
async def internal(clients_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=clients_app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        yield client


async def test_a_client_gets_a_scoped_service_token(
    internal: httpx.AsyncClient, clients_app: FastAPI
) -> None:
    response = await internal.post(
        "/internal/token",
        data={"grant_type": "client_credentials"},
        headers=basic("notifier", "dev-notifier-secret"),
    )

    assert response.status_code == 200
    body = response.json()
    assert body["scope"] == "tasks:summaries"
    assert 0 < body["expires_in"] <= 300
    verifier = clients_app.state.context.verifier
    assert (
        await verifier.service_subject(body["access_token"], scope="tasks:summaries") == "notifier"
    )
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["typ"] == "service"
    assert "sid" not in claims


@pytest.mark.parametrize(
    ("form", "headers", "status"),
    [
        ({"grant_type": "client_credentials"}, basic("notifier", "wrong"), 401),
        ({"grant_type": "client_credentials"}, basic("stranger", "dev-notifier-secret"), 401),
        ({"grant_type": "client_credentials"}, {}, 401),
        ({"grant_type": "password"}, basic("notifier", "dev-notifier-secret"), 400),
        (
            {"grant_type": "client_credentials", "scope": "users:delete"},
            basic("notifier", "dev-notifier-secret"),
            403,
        ),
        ({"scope": "tasks:summaries"}, basic("notifier", "dev-notifier-secret"), 422),
    ],
)
async def test_bad_client_credentials_are_refused(
    internal: httpx.AsyncClient, form: dict[str, str], headers: dict[str, str], status: int
) -> None:
    response = await internal.post("/internal/token", data=form, headers=headers)

    assert response.status_code == status
    assert response.json()["message"]


async def test_credentials_may_come_in_the_form(internal: httpx.AsyncClient) -> None:
    response = await internal.post(
        "/internal/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "notifier",
            "client_secret": "dev-notifier-secret",
        },
    )

    assert response.status_code == 200


async def test_a_user_token_is_no_service_token(clients_app: FastAPI, account: Account) -> None:
    verifier = clients_app.state.context.verifier

    with pytest.raises(InvalidToken):
        await verifier.service_subject(account.access_token, scope="tasks:summaries")


async def test_a_service_token_is_no_user_token(
    internal: httpx.AsyncClient,
) -> None:
    token = await service_token(internal, "notifier", "dev-notifier-secret")

    response = await internal.get("/api/user", headers=bearer(token))

    assert response.status_code == 401


async def test_a_token_without_the_scope_is_forbidden(clients_app: FastAPI) -> None:
    verifier = clients_app.state.context.verifier
    transport = httpx.ASGITransport(app=clients_app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        token = await service_token(client, "notifier", "dev-notifier-secret")

    with pytest.raises(APIError) as refused:
        await verifier.service_subject(token, scope="tasks:write")
    assert refused.value.status_code == 403


def test_production_refuses_placeholder_client_secrets(tmp_path: Path) -> None:
    (tmp_path / "key.pem").write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(ValidationError, match="AUTH_SERVICE_CLIENTS"):
        make_settings(
            tmp_path,
            environment="production",
            signing_key_file=tmp_path / "key.pem",
            service_clients=CLIENTS,
        )
