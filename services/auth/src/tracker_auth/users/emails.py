"""Addresses compared in one form, and the secrets of the links mailed to a person."""

import enum
import hashlib
import secrets

TOKEN_BYTES = 32


class TokenPurpose(enum.StrEnum):
    VERIFY = "verify"
    RESET = "reset"


def email_key(email: str) -> str:
    """The form in which addresses are compared and kept unique: the address casefolded.

    Computed here and only here, for registration, login and reset alike, so an address
    that registers can always log in (the database's ``lower`` differs from Python's for
    some letters, and with some locales leaves them alone)."""
    return email.casefold()


def new_link_token() -> tuple[str, bytes]:
    """A random link token and the digest under which it is stored."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return token, link_token_digest(token)


def link_token_digest(token: str) -> bytes:
    # 256 random bits: a fast hash is enough, there is nothing to brute-force.
    return hashlib.sha256(token.encode()).digest()
