"""Access tokens the tasks service must refuse, verified with the JWKS fetched from auth."""

import asyncio
import time

import httpx
import pytest
from fastapi import FastAPI

from devsupport.accounts import Account, bearer, service_token
from tests.support.forged_tokens import FORGED, Forge, assert_refused, with_claims
from tracker_auth.keys import SigningKey

from .conftest import PREVIOUS_SIGNING_KEY
from .support import NOTIFIER_SECRET

LEEWAY_S = 5
"""The verifier's leeway on expiry (``TokenVerifier``'s default)."""


@pytest.mark.parametrize("forge", FORGED.values(), ids=FORGED.keys())
async def test_a_defective_token_is_refused(
    client: httpx.AsyncClient, auth_app: FastAPI, alice: Account, forge: Forge
) -> None:
    """Each forged from a genuine token the service has just accepted (and remembers as
    verified): no variant of it is taken for it."""
    key: SigningKey = auth_app.state.context.signing_key
    assert (await client.get("/api/tasks", headers=alice.headers)).status_code == 200

    await assert_refused(client, "/api/tasks", forge(key, alice.access_token))


async def test_a_refresh_token_is_no_access_token(
    client: httpx.AsyncClient, auth: httpx.AsyncClient, alice: Account
) -> None:
    await assert_refused(client, "/api/tasks", auth.cookies["tt_refresh"])


async def test_a_service_token_is_no_user_token(
    client: httpx.AsyncClient, auth: httpx.AsyncClient
) -> None:
    await assert_refused(
        client, "/api/tasks", await service_token(auth, "notifier", NOTIFIER_SECRET)
    )


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer   ", "Token abc"])
async def test_other_authorization_schemes_are_refused(
    client: httpx.AsyncClient, alice: Account, header: str
) -> None:
    response = await client.get("/api/tasks", headers={"Authorization": header})

    assert response.status_code == 401


async def test_genuine_tokens_are_accepted(
    client: httpx.AsyncClient, auth_app: FastAPI, alice: Account
) -> None:
    """The control for the matrix: the real token, and a re-signed copy, are accepted."""
    key: SigningKey = auth_app.state.context.signing_key
    resigned = with_claims()(key, alice.access_token)

    for token in (alice.access_token, resigned):
        assert (await client.get("/api/tasks", headers=bearer(token))).status_code == 200


async def test_a_token_of_auth_s_previous_key_is_accepted(
    client: httpx.AsyncClient, alice: Account
) -> None:
    """After a key rotation, tokens the retired key signed keep working until they expire:
    auth still publishes that key in its JWKS."""
    token = with_claims()(SigningKey(PREVIOUS_SIGNING_KEY), alice.access_token)

    assert (await client.get("/api/tasks", headers=bearer(token))).status_code == 200


async def test_a_remembered_token_is_refused_once_it_expires(
    client: httpx.AsyncClient, auth_app: FastAPI, alice: Account
) -> None:
    """Accepted while within the verifier's leeway of its expiry, and remembered as
    verified; refused as soon as the leeway is over."""
    key: SigningKey = auth_app.state.context.signing_key
    expires = int(time.time()) - LEEWAY_S + 2
    token = with_claims(exp=expires)(key, alice.access_token)

    accepted = await client.get("/api/tasks", headers=bearer(token))
    await asyncio.sleep(max(0.0, expires + LEEWAY_S - time.time()) + 0.2)
    refused = await client.get("/api/tasks", headers=bearer(token))

    assert accepted.status_code == 200
    assert refused.status_code == 401
    assert refused.json()["message"] == "Token expired"
