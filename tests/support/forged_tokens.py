"""Access tokens that every service must refuse, each forged from a genuine one.

A forge takes auth's signing key and a genuine access token and returns a defective token.
The auth and tasks test matrices both run :data:`FORGED`, each adding its own cases.
"""

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
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from devsupport.accounts import bearer
from tracker_auth.keys import SigningKey

Forge = Callable[[SigningKey, str], str]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims_of(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def with_claims(**changes: Any) -> Forge:
    """Correctly signed with auth's own key, with claims changed (``None`` removes one)."""

    def forge(key: SigningKey, genuine: str) -> str:
        updated = {k: v for k, v in {**claims_of(genuine), **changes}.items() if v is not None}
        return jwt.encode(updated, key.private_key, algorithm="EdDSA", headers={"kid": key.kid})

    return forge


def alg_none(_: SigningKey, genuine: str) -> str:
    header = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{b64(json.dumps(claims_of(genuine)).encode())}."


def hmac_with_the_public_key(key: SigningKey, genuine: str) -> str:
    """The classic confusion: HS256 keyed with the published verification key."""
    public_pem = key.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = b64(json.dumps({"alg": "HS256", "kid": key.kid}).encode())
    payload = b64(json.dumps(claims_of(genuine)).encode())
    signature = hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64(signature)}"


def unknown_kid(key: SigningKey, genuine: str) -> str:
    return jwt.encode(
        claims_of(genuine), key.private_key, algorithm="EdDSA", headers={"kid": "rotated-away"}
    )


def no_kid(key: SigningKey, genuine: str) -> str:
    return jwt.encode(claims_of(genuine), key.private_key, algorithm="EdDSA")


def foreign_key_same_kid(key: SigningKey, genuine: str) -> str:
    return jwt.encode(
        claims_of(genuine),
        Ed25519PrivateKey.generate(),
        algorithm="EdDSA",
        headers={"kid": key.kid},
    )


def tampered_signature(_: SigningKey, genuine: str) -> str:
    header, payload, signature = genuine.split(".")
    flipped = "A" if signature[10] != "A" else "B"
    return f"{header}.{payload}.{signature[:10]}{flipped}{signature[11:]}"


def tampered_payload(_: SigningKey, genuine: str) -> str:
    """Someone else's user id under the original signature."""
    header, _payload, signature = genuine.split(".")
    payload = b64(json.dumps({**claims_of(genuine), "sub": str(uuid.uuid4())}).encode())
    return f"{header}.{payload}.{signature}"


NOW = int(time.time())
FORGED: dict[str, Forge] = {
    "alg none": alg_none,
    "HMAC signed with the public key": hmac_with_the_public_key,
    "wrong audience": with_claims(aud="someone-else"),
    "wrong issuer": with_claims(iss="https://evil.example"),
    "expired": with_claims(iat=NOW - 3600, exp=NOW - 1800),
    "another token type": with_claims(typ="refresh"),
    "service token type": with_claims(typ="service", scope="tasks:summaries"),
    "unknown kid": unknown_kid,
    "no kid": no_kid,
    "signed by another key with auth's kid": foreign_key_same_kid,
    "tampered signature": tampered_signature,
    "tampered payload": tampered_payload,
    "missing exp": with_claims(exp=None),
    "missing sid": with_claims(sid=None),
    "malformed": lambda *_: "not-a-jwt",
}


async def assert_refused(client: httpx.AsyncClient, path: str, token: str) -> None:
    """``GET path`` refuses the token both as a Bearer header and as the access cookie."""
    client.cookies.clear()
    as_bearer = await client.get(path, headers=bearer(token))
    client.cookies.set("tt_access", token, path="/api")
    as_cookie = await client.get(path)
    client.cookies.clear()
    for response in (as_bearer, as_cookie):
        assert response.status_code == 401
        assert response.json()["message"]
        assert response.headers["www-authenticate"] == "Bearer"
