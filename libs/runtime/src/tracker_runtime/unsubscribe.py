"""Signed one-click unsubscribe tokens (RFC 8058 links in the digest and reminder mails).

The notifier signs, the auth service verifies: both hold ``UNSUBSCRIBE_SECRET``. A token
names one user and one kind of mail (:class:`MailList`) and does one thing, turning that
kind off, so it needs no expiry (a List-Unsubscribe link must keep working for as long as
the mail sits in an inbox) and carries no other power: it cannot log anyone in.

Formats, URL-safe base64 without padding, told apart by their length:

- the digest (43 characters, the first format, so every digest link ever mailed keeps
  working): the user id's 16 bytes, then the first 16 bytes of
  HMAC-SHA256(secret, ``PURPOSE`` + user id);
- any other kind (44 characters): the user id's 16 bytes, one byte naming the kind, then
  the first 16 bytes of HMAC-SHA256(secret, ``LIST_PURPOSE`` + kind byte + user id). A
  token of one kind cannot be turned into one of another: the kind is signed.
"""

import base64
import binascii
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from pydantic import Field, SecretStr

from tracker_runtime.settings import FROM_FILE

PATH = "/api/user/unsubscribe"
"""Where the auth service takes the token (through the gateway)."""
PURPOSE = b"task-tracker/unsubscribe/v1:"
LIST_PURPOSE = b"task-tracker/unsubscribe/v2:"
MAC_BYTES = 16
TOKEN_LENGTH = 43
"""Characters of a digest token: 32 bytes in unpadded base64."""
LIST_TOKEN_LENGTH = 44
"""Characters of a token of another kind: 33 bytes in unpadded base64."""


class MailList(StrEnum):
    """The kinds of mail a person can turn off from the mail itself."""

    DIGEST = "digest"
    REMINDERS = "reminders"


LIST_BYTES: dict[MailList, int] = {MailList.REMINDERS: 1}
"""The byte that names each kind in a token of the second format (never reuse one)."""
LISTS_BY_BYTE = {value: mail_list for mail_list, value in LIST_BYTES.items()}


@dataclass(frozen=True, slots=True)
class Unsubscription:
    """What a valid token asks: turn ``mail_list`` off for ``user_id``."""

    user_id: uuid.UUID
    mail_list: MailList


MIN_SECRET_LENGTH = 32
DEVELOPMENT_SECRET = "dev-unsubscribe-secret"

UnsubscribeSecret = Annotated[
    SecretStr,
    FROM_FILE,
    Field(
        validation_alias="UNSUBSCRIBE_SECRET",
        description="Signs the unsubscribe links in mail; the auth service and the notifier "
        "must share it.",
    ),
]


def _mac(message: bytes, secret: str) -> bytes:
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()[:MAC_BYTES]


def sign(user_id: uuid.UUID, secret: str, mail_list: MailList = MailList.DIGEST) -> str:
    """The token that turns ``mail_list`` off for ``user_id``."""
    if mail_list is MailList.DIGEST:
        raw = user_id.bytes + _mac(PURPOSE + user_id.bytes, secret)
    else:
        kind = bytes([LIST_BYTES[mail_list]])
        raw = user_id.bytes + kind + _mac(LIST_PURPOSE + kind + user_id.bytes, secret)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def link(
    public_url: str, user_id: uuid.UUID, secret: str, mail_list: MailList = MailList.DIGEST
) -> str:
    """The unsubscribe address to put in a mail of ``mail_list``."""
    return f"{public_url.rstrip('/')}{PATH}?token={sign(user_id, secret, mail_list)}"


def verify(token: str, secret: str) -> Unsubscription | None:
    """What the token asks, or ``None`` for a malformed or forged token.

    The token must be exactly what :func:`sign` produces: base64 decoding forgives stray
    characters and padding, so the decoded id and kind are signed again and the whole
    token compared.
    """
    if len(token) not in (TOKEN_LENGTH, LIST_TOKEN_LENGTH):
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    if len(raw) == 16 + MAC_BYTES:
        mail_list = MailList.DIGEST
    elif len(raw) == 17 + MAC_BYTES and raw[16] in LISTS_BY_BYTE:
        mail_list = LISTS_BY_BYTE[raw[16]]
    else:
        return None
    user_id = uuid.UUID(bytes=raw[:16])
    if not hmac.compare_digest(token, sign(user_id, secret, mail_list)):
        return None
    return Unsubscription(user_id, mail_list)


def check_production_secret(secret: SecretStr) -> None:
    """Raise when the secret is a development placeholder or too short to be random."""
    value = secret.get_secret_value()
    if value.startswith("dev-") or len(value) < MIN_SECRET_LENGTH:
        raise ValueError(
            f"UNSUBSCRIBE_SECRET needs a random value of at least {MIN_SECRET_LENGTH} "
            "characters in production"
        )
