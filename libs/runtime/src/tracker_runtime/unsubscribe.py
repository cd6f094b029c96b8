"""Signed one-click unsubscribe tokens (RFC 8058 links in the digest mail).

The notifier signs, the auth service verifies: both hold ``UNSUBSCRIBE_SECRET``. A token
names one user and does one thing, turning their digest off, so it needs no expiry (a
List-Unsubscribe link must keep working for as long as the mail sits in an inbox) and
carries no other power: it cannot log anyone in.

Format: URL-safe base64 of the user id's 16 bytes followed by the first 16 bytes of
HMAC-SHA256(secret, purpose + user id).
"""

import base64
import binascii
import hashlib
import hmac
import uuid
from typing import Annotated

from pydantic import Field, SecretStr

PATH = "/api/user/unsubscribe"
"""Where the auth service takes the token (through the gateway)."""
PURPOSE = b"task-tracker/unsubscribe/v1:"
MAC_BYTES = 16
TOKEN_LENGTH = 43
"""Characters of a token: 32 bytes in unpadded base64."""
MIN_SECRET_LENGTH = 32
DEVELOPMENT_SECRET = "dev-unsubscribe-secret"

UnsubscribeSecret = Annotated[
    SecretStr,
    Field(
        validation_alias="UNSUBSCRIBE_SECRET",
        description="Signs the unsubscribe links in mail; the auth service and the notifier "
        "must share it.",
    ),
]


def _mac(user_id: uuid.UUID, secret: str) -> bytes:
    digest = hmac.new(secret.encode(), PURPOSE + user_id.bytes, hashlib.sha256).digest()
    return digest[:MAC_BYTES]


def sign(user_id: uuid.UUID, secret: str) -> str:
    return base64.urlsafe_b64encode(user_id.bytes + _mac(user_id, secret)).decode().rstrip("=")


def link(public_url: str, user_id: uuid.UUID, secret: str) -> str:
    """The unsubscribe address to put in a mail."""
    return f"{public_url.rstrip('/')}{PATH}?token={sign(user_id, secret)}"


def verify(token: str, secret: str) -> uuid.UUID | None:
    """The user the token was signed for, or ``None`` for a malformed or forged token.

    The token must be exactly what :func:`sign` produces: base64 decoding forgives stray
    characters and padding, so the decoded id is signed again and the whole token compared.
    """
    if len(token) != TOKEN_LENGTH:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    if len(raw) != 16 + MAC_BYTES:
        return None
    user_id = uuid.UUID(bytes=raw[:16])
    return user_id if hmac.compare_digest(token, sign(user_id, secret)) else None


def check_production_secret(secret: SecretStr) -> None:
    """Raise when the secret is a development placeholder or too short to be random."""
    value = secret.get_secret_value()
    if value.startswith("dev-") or len(value) < MIN_SECRET_LENGTH:
        raise ValueError(
            f"UNSUBSCRIBE_SECRET needs a random value of at least {MIN_SECRET_LENGTH} "
            "characters in production"
        )
