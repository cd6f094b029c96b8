"""Access tokens the tasks service must refuse, verified with the JWKS fetched from auth."""

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI

from tracker_auth.keys import SigningKey

from .support import NOTIFIER_SECRET, Account, bearer, service_token

Forge = Callable[[SigningKey, Account, dict[str, Any]], str]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims_of(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def with_claims(**changes: Any) -> Forge:
    """Correctly signed by auth's own key, with claims changed (None removes one)."""

    def forge(key: SigningKey, _: Account, claims: dict[str, Any]) -> str:
        updated = {k: v for k, v in {**claims, **changes}.items() if v is not None}
        return jwt.encode(updated, key.private_key, algorithm="EdDSA", headers={"kid": key.kid})

    return forge


def alg_none(_: SigningKey, __: Account, claims: dict[str, Any]) -> str:
    header = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{b64(json.dumps(claims).encode())}."


def hmac_with_the_public_key(key: SigningKey, _: Account, claims: dict[str, Any]) -> str:
    """The classic confusion: HS256 keyed with the published verification key."""
    public_pem = key.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = b64(json.dumps({"alg": "HS256", "kid": key.kid}).encode())
    payload = b64(json.dumps(claims).encode())
    signature = hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64(signature)}"


def unknown_kid(key: SigningKey, _: Account, claims: dict[str, Any]) -> str:
    return jwt.encode(claims, key.private_key, algorithm="EdDSA", headers={"kid": "rotated-away"})


def foreign_key_same_kid(key: SigningKey, _: Account, claims: dict[str, Any]) -> str:
    return jwt.encode(
        claims, Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": key.kid}
    )


def tampered_signature(_: SigningKey, account: Account, __: dict[str, Any]) -> str:
    header, payload, signature = account.access_token.split(".")
    flipped = "A" if signature[10] != "A" else "B"
    return f"{header}.{payload}.{signature[:10]}{flipped}{signature[11:]}"


def tampered_payload(_: SigningKey, account: Account, claims: dict[str, Any]) -> str:
    """Someone else's user id under the original signature."""
    header, _payload, signature = account.access_token.split(".")
    payload = b64(json.dumps({**claims, "sub": str(uuid.uuid4())}).encode())
    return f"{header}.{payload}.{signature}"


NOW = int(time.time())
CASES: dict[str, Forge] = {
    "alg none": alg_none,
    "HMAC signed with the public key": hmac_with_the_public_key,
    "wrong audience": with_claims(aud="someone-else"),
    "wrong issuer": with_claims(iss="https://evil.example"),
    "expired": with_claims(iat=NOW - 3600, exp=NOW - 1800),
    "another token type": with_claims(typ="refresh"),
    "service type": with_claims(typ="service", scope="tasks:summaries"),
    "unknown kid": unknown_kid,
    "signed by another key with auth's kid": foreign_key_same_kid,
    "tampered signature": tampered_signature,
    "tampered payload": tampered_payload,
    "missing exp": with_claims(exp=None),
    "missing sid": with_claims(sid=None),
    "malformed": lambda *_: "not-a-jwt",
}


async def refused(client: httpx.AsyncClient, token: str) -> None:
    """The token is refused as a Bearer header and as the access cookie."""
    as_bearer = await client.get("/api/tasks", headers=bearer(token))
    client.cookies.set("tt_access", token, path="/api")
    as_cookie = await client.get("/api/tasks")
    client.cookies.clear()
    for response in (as_bearer, as_cookie):
        assert response.status_code == 401
        assert response.json()["message"]
        assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("forge", CASES.values(), ids=CASES.keys())
async def test_a_defective_token_is_refused(
    client: httpx.AsyncClient, auth_app: FastAPI, alice: Account, forge: Forge
) -> None:
    key: SigningKey = auth_app.state.context.signing_key

    await refused(client, forge(key, alice, claims_of(alice.access_token)))


async def test_a_refresh_token_is_no_access_token(
    client: httpx.AsyncClient, auth: httpx.AsyncClient, alice: Account
) -> None:
    await refused(client, auth.cookies["tt_refresh"])


async def test_a_service_token_is_no_user_token(
    client: httpx.AsyncClient, auth: httpx.AsyncClient
) -> None:
    await refused(client, await service_token(auth, "notifier", NOTIFIER_SECRET))


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
    resigned = with_claims()(key, alice, claims_of(alice.access_token))

    for token in (alice.access_token, resigned):
        assert (await client.get("/api/tasks", headers=bearer(token))).status_code == 200
