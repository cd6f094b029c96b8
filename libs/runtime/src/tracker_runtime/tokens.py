"""Access tokens: where a request carries one, and how any service verifies it.

Tokens are JWTs signed by the auth service with an asymmetric key (EdDSA). Verification
pins the algorithm, the issuer, the audience and the token type, and finds the key by the
``kid`` header in a key set (auth's own keys, or the JWKS fetched from auth).
"""

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import jwt
from starlette.requests import HTTPConnection

from tracker_runtime.errors import APIError

ALGORITHM = "EdDSA"
ACCESS_TOKEN_TYPE = "access"
SERVICE_TOKEN_TYPE = "service"
ACCESS_COOKIE = "tt_access"
REFRESH_COOKIE = "tt_refresh"
REQUIRED_CLAIMS = ("iss", "aud", "sub", "jti", "typ", "iat", "exp")
VERIFIED_TOKENS_KEPT = 10_000
"""Access tokens whose claims a verifier remembers (about 5 MB at most)."""


class InvalidToken(APIError):
    def __init__(self, message: str = "Not logged in") -> None:
        super().__init__(401, message, headers={"WWW-Authenticate": "Bearer"})


class KeySet(Protocol):
    """Finds a verification key by its ``kid``."""

    async def key_for(self, kid: str) -> jwt.PyJWK | None: ...


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: uuid.UUID
    session_id: uuid.UUID
    token_id: str
    expires_at: datetime


def token_from(connection: HTTPConnection) -> str | None:
    """The access token of a request: the Bearer header first, then the access cookie."""
    authorization = connection.headers.get("authorization")
    if authorization:
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            raise InvalidToken("Send the token as 'Authorization: Bearer <token>'")
        return credentials.strip()
    return connection.cookies.get(ACCESS_COOKIE) or None


class TokenVerifier:
    """Verifies tokens with the keys of ``keys``.

    The claims of an access token are remembered once its signature and claims have been
    verified, keyed by the whole token (signature included: a token that differs in one
    byte is verified afresh), until it expires: a browser sends the same token with every
    request for its lifetime, and its signature is checked once.
    """

    def __init__(self, keys: KeySet, *, issuer: str, audience: str, leeway: int = 5) -> None:
        self._keys = keys
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway
        self._verified: dict[str, AccessClaims] = {}

    async def claims(self, token: str, *, token_type: str) -> Mapping[str, Any]:
        """Verified claims of ``token``; raises :class:`InvalidToken` for any defect."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as error:
            raise InvalidToken("Malformed token") from error
        if header.get("alg") != ALGORITHM:
            raise InvalidToken("Unexpected token algorithm")
        kid = header.get("kid")
        key = await self._keys.key_for(kid) if isinstance(kid, str) else None
        if key is None:
            raise InvalidToken("Unknown signing key")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                issuer=self._issuer,
                audience=self._audience,
                leeway=self._leeway,
                options={"require": list(REQUIRED_CLAIMS)},
            )
        except jwt.ExpiredSignatureError as error:
            raise InvalidToken("Token expired") from error
        except jwt.InvalidTokenError as error:
            raise InvalidToken("Invalid token") from error
        if claims.get("typ") != token_type:
            raise InvalidToken("Wrong token type")
        return claims

    async def service_subject(self, token: str, *, scope: str) -> str:
        """The service a service token was issued to, if it carries ``scope``. No user
        token can pass: the type is pinned, and only service tokens carry scopes."""
        claims = await self.claims(token, token_type=SERVICE_TOKEN_TYPE)
        if scope not in str(claims.get("scope", "")).split():
            raise APIError(403, f"This token lacks the scope {scope!r}")
        return str(claims["sub"])

    async def access_claims(self, token: str) -> AccessClaims:
        known = self._verified.get(token)
        if known is not None:
            if time.time() < known.expires_at.timestamp() + self._leeway:
                return known
            del self._verified[token]  # verified again below, which says it expired
        claims = await self.claims(token, token_type=ACCESS_TOKEN_TYPE)
        try:
            verified = AccessClaims(
                user_id=uuid.UUID(claims["sub"]),
                session_id=uuid.UUID(claims["sid"]),
                token_id=str(claims["jti"]),
                expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
            )
        except (KeyError, ValueError, TypeError) as error:
            raise InvalidToken("Invalid token") from error
        if len(self._verified) >= VERIFIED_TOKENS_KEPT:
            del self._verified[next(iter(self._verified))]  # the longest remembered
        self._verified[token] = verified
        return verified
