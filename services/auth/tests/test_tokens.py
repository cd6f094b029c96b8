"""Access tokens that must be refused, each for its own reason."""

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

from tracker_auth.context import AuthContext

from .support import Account

Forge = Callable[[AuthContext, Account, dict[str, Any]], str]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims_of(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def sign(ctx: AuthContext, claims: dict[str, Any], **headers: Any) -> str:
    return jwt.encode(
        claims,
        ctx.signing_key.private_key,
        algorithm="EdDSA",
        headers={"kid": ctx.signing_key.kid, **headers},
    )


def with_claims(**changes: Any) -> Forge:
    def forge(ctx: AuthContext, _: Account, claims: dict[str, Any]) -> str:
        updated = {**claims, **changes}
        return sign(ctx, {k: v for k, v in updated.items() if v is not None})

    return forge


def alg_none(_: AuthContext, __: Account, claims: dict[str, Any]) -> str:
    header = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{b64(json.dumps(claims).encode())}."


def hmac_with_the_public_key(ctx: AuthContext, _: Account, claims: dict[str, Any]) -> str:
    """The classic confusion: HS256 keyed with the (public) verification key."""
    public_pem = ctx.signing_key.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = b64(json.dumps({"alg": "HS256", "kid": ctx.signing_key.kid}).encode())
    payload = b64(json.dumps(claims).encode())
    signature = hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64(signature)}"


def unknown_kid(ctx: AuthContext, _: Account, claims: dict[str, Any]) -> str:
    return jwt.encode(
        claims, ctx.signing_key.private_key, algorithm="EdDSA", headers={"kid": "nope"}
    )


def no_kid(ctx: AuthContext, _: Account, claims: dict[str, Any]) -> str:
    return jwt.encode(claims, ctx.signing_key.private_key, algorithm="EdDSA")


def foreign_key_same_kid(ctx: AuthContext, _: Account, claims: dict[str, Any]) -> str:
    return jwt.encode(
        claims,
        Ed25519PrivateKey.generate(),
        algorithm="EdDSA",
        headers={"kid": ctx.signing_key.kid},
    )


def tampered_signature(_: AuthContext, account: Account, __: dict[str, Any]) -> str:
    header, payload, signature = account.access_token.split(".")
    flipped = "A" if signature[10] != "A" else "B"
    return f"{header}.{payload}.{signature[:10]}{flipped}{signature[11:]}"


def tampered_payload(ctx: AuthContext, account: Account, claims: dict[str, Any]) -> str:
    header, _, signature = account.access_token.split(".")
    payload = b64(json.dumps({**claims, "sub": str(uuid.uuid4())}).encode())
    return f"{header}.{payload}.{signature}"


def refresh_token_as_access(_: AuthContext, __: Account, ___: dict[str, Any]) -> str:
    return "REFRESH"  # replaced by the client's refresh cookie in the test


def garbage(_: AuthContext, __: Account, ___: dict[str, Any]) -> str:
    return "not-a-jwt"


NOW = int(time.time())
CASES: dict[str, Forge] = {
    "alg none": alg_none,
    "HMAC signed with the public key": hmac_with_the_public_key,
    "wrong audience": with_claims(aud="someone-else"),
    "wrong issuer": with_claims(iss="https://evil.example"),
    "expired": with_claims(iat=NOW - 3600, exp=NOW - 1800),
    "refresh token used as access token": refresh_token_as_access,
    "another token type": with_claims(typ="refresh"),
    "service token": with_claims(typ="service"),
    "unknown kid": unknown_kid,
    "no kid": no_kid,
    "signed by another key with our kid": foreign_key_same_kid,
    "tampered signature": tampered_signature,
    "tampered payload": tampered_payload,
    "missing exp": with_claims(exp=None),
    "missing sid": with_claims(sid=None),
    "sid of another session": with_claims(sid=str(uuid.uuid4())),
    "malformed": garbage,
}


@pytest.mark.parametrize("forge", CASES.values(), ids=CASES.keys())
async def test_a_defective_token_is_refused(
    client: httpx.AsyncClient, context: AuthContext, account: Account, forge: Forge
) -> None:
    token = forge(context, account, claims_of(account.access_token))
    if token == "REFRESH":
        token = client.cookies["tt_refresh"]
    client.cookies.clear()

    as_bearer = await client.get("/api/user", headers={"Authorization": f"Bearer {token}"})
    client.cookies.set("tt_access", token, path="/api")
    as_cookie = await client.get("/api/user")

    for response in (as_bearer, as_cookie):
        assert response.status_code == 401
        assert response.json()["message"]
        assert response.headers["www-authenticate"] == "Bearer"


async def test_the_genuine_token_is_accepted(
    client: httpx.AsyncClient, context: AuthContext, account: Account
) -> None:
    """The control for the matrix above: the same path accepts a correct token."""
    client.cookies.clear()
    resigned = with_claims()(context, account, claims_of(account.access_token))
    for token in (account.access_token, resigned):
        response = await client.get("/api/user", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer   ", "Token abc"])
async def test_other_authorization_schemes_are_refused(
    client: httpx.AsyncClient, account: Account, header: str
) -> None:
    response = await client.get("/api/user", headers={"Authorization": header})

    assert response.status_code == 401


async def test_the_token_carries_the_pinned_claims(context: AuthContext, account: Account) -> None:
    header = jwt.get_unverified_header(account.access_token)
    claims = claims_of(account.access_token)

    assert header["alg"] == "EdDSA"
    assert header["kid"] == context.signing_key.kid
    assert set(claims) == {"iss", "aud", "sub", "sid", "jti", "typ", "iat", "exp"}
    assert claims["sub"] == account.id
    assert claims["typ"] == "access"
    assert 14 * 60 <= claims["exp"] - claims["iat"] <= 15 * 60


async def test_the_jwks_verifies_issued_tokens(client: httpx.AsyncClient, account: Account) -> None:
    response = await client.get("/.well-known/jwks.json")

    assert response.status_code == 200
    [key] = response.json()["keys"]
    assert key["kty"] == "OKP"
    assert "d" not in key  # never the private part
    verified = jwt.decode(
        account.access_token,
        jwt.PyJWK(key),
        algorithms=["EdDSA"],
        audience="task-tracker",
        issuer="task-tracker-auth",
    )
    assert verified["sub"] == account.id
