"""Minting access tokens (signed JWTs) and refresh tokens (opaque random values)."""

import base64
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

import jwt

from tracker_auth.config import Settings
from tracker_auth.keys import SigningKey
from tracker_runtime.tokens import ACCESS_TOKEN_TYPE, ALGORITHM, SERVICE_TOKEN_TYPE


@dataclass(frozen=True, slots=True)
class IssuedTokens:
    session_id: uuid.UUID
    access_token: str
    access_expires_at: datetime
    refresh_token: str
    refresh_expires_at: datetime


REFRESH_TOKEN_BYTES = 32


def new_refresh_token() -> tuple[str, bytes]:
    """A refresh token and the digest under which it is stored."""
    return _encode(secrets.token_bytes(REFRESH_TOKEN_BYTES))


def _encode(raw: bytes) -> tuple[str, bytes]:
    token = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    return token, refresh_token_digest(token)


def _successor_pad(predecessor: str) -> bytes:
    # Another hash of the predecessor than its stored digest, so that the database alone
    # (digests and sealed successors) never yields a usable token.
    return hashlib.sha256(b"successor:" + predecessor.encode()).digest()


def seal_successor(predecessor: str, successor: str) -> bytes:
    """``successor`` encrypted with a one-time pad only a holder of ``predecessor`` can make."""
    raw = base64.urlsafe_b64decode(successor + "=" * (-len(successor) % 4))
    return bytes(a ^ b for a, b in zip(raw, _successor_pad(predecessor), strict=True))


def unseal_successor(predecessor: str, sealed: bytes) -> tuple[str, bytes]:
    """The successor sealed by :func:`seal_successor`, and its digest."""
    return _encode(bytes(a ^ b for a, b in zip(sealed, _successor_pad(predecessor), strict=True)))


def refresh_token_digest(token: str) -> bytes:
    # The token has 256 random bits, so a fast hash is enough: nothing to brute-force.
    return hashlib.sha256(token.encode()).digest()


def access_token(
    key: SigningKey,
    settings: Settings,
    *,
    user_id: uuid.UUID,
    session_id: uuid.UUID,
    session_expires_at: datetime,
    now: datetime,
) -> tuple[str, datetime]:
    # Never past the session's end: other services forget a revoked session once it is
    # over, so a token outliving it would be accepted again.
    expires_at = min(now + settings.access_token_ttl, session_expires_at)
    claims = {
        "iss": settings.issuer,
        "aud": settings.audience,
        "sub": str(user_id),
        "sid": str(session_id),
        "jti": uuid.uuid4().hex,
        "typ": ACCESS_TOKEN_TYPE,
        "iat": int(now.timestamp()),
        "exp": int(expires_at.timestamp()),
    }
    token = jwt.encode(
        claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid, "typ": "at+jwt"}
    )
    return token, expires_at


def service_token(
    key: SigningKey, settings: Settings, *, client_id: str, scopes: list[str], now: datetime
) -> tuple[str, datetime]:
    """A token for another service (client credentials): ``typ`` "service" with scopes and
    no session, so that no user token can stand in for it, nor it for a user token."""
    expires_at = now + settings.service_token_ttl
    claims = {
        "iss": settings.issuer,
        "aud": settings.audience,
        "sub": client_id,
        "jti": uuid.uuid4().hex,
        "typ": SERVICE_TOKEN_TYPE,
        "scope": " ".join(scopes),
        "iat": int(now.timestamp()),
        "exp": int(expires_at.timestamp()),
    }
    token = jwt.encode(claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid})
    return token, expires_at
