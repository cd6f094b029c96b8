"""The Ed25519 keys of access tokens, and the public key set (JWKS) others verify with.

One key signs (``AUTH_SIGNING_KEY``). The JWKS publishes it together with the next key
(``AUTH_NEXT_SIGNING_KEY``: not signing yet, published early so that every verifier's cached
copy of the JWKS knows it before it signs anything) and the previous keys
(``AUTH_PREVIOUS_SIGNING_KEYS``: signing no more, published until the tokens they signed have
expired). Auth's own verifier accepts every published key: while a promotion rolls out, a
replica still on the old configuration must accept tokens that an upgraded one signed.

In development the signing key is generated once into a git-ignored folder; in production
it comes from configuration and the service refuses to start without it.
"""

import base64
import hashlib
import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jwt
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from jwt.algorithms import OKPAlgorithm

if TYPE_CHECKING:
    from tracker_auth.config import Settings

logger = logging.getLogger(__name__)

DEVELOPMENT_KEY_FILE = "auth-signing-key.pem"
PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----.+?-----END \1-----", re.DOTALL)
HOW_TO_MAKE_ONE = "`openssl genpkey -algorithm ed25519` writes one"


def _rfc7638(public_jwk: dict[str, Any]) -> str:
    """RFC 7638 thumbprint: a stable ``kid`` derived from the key itself."""
    members = {name: public_jwk[name] for name in ("crv", "kty", "x")}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()


def private_key_from_pem(pem: bytes) -> Ed25519PrivateKey:
    """The Ed25519 private key in ``pem``; a ``ValueError`` that says what is wrong (and
    never quotes the key) otherwise."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise ValueError(f"not an unencrypted PEM private key ({HOW_TO_MAKE_ONE})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"the signing key must be an Ed25519 private key ({HOW_TO_MAKE_ONE})")
    return key


def public_keys_from_pems(pems: bytes) -> list[Ed25519PublicKey]:
    """The Ed25519 public keys of the PEM blocks in ``pems``, one after the other; each block
    may be a private key (its public half is taken) or a public key. Empty text holds none."""
    blocks = list(PEM_BLOCK.finditer(pems))
    if not blocks and pems.strip():
        raise ValueError("holds no PEM block (-----BEGIN PUBLIC KEY----- ... -----END ...)")
    keys = []
    for number, block in enumerate(blocks, start=1):
        label = block.group(1).decode()
        if label not in ("PRIVATE KEY", "PUBLIC KEY"):
            raise ValueError(f"key {number} is a {label}, not a PRIVATE KEY or PUBLIC KEY block")
        try:
            key: object = (
                serialization.load_pem_private_key(block.group(0), password=None)
                if label == "PRIVATE KEY"
                else serialization.load_pem_public_key(block.group(0))
            )
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise ValueError(f"key {number} cannot be read (a damaged or encrypted PEM)") from None
        if isinstance(key, Ed25519PrivateKey):
            key = key.public_key()
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError(f"key {number} is not an Ed25519 key")
        keys.append(key)
    return keys


class PublishedKey:
    """A public key in the JWKS, named by its RFC 7638 thumbprint."""

    def __init__(self, public_key: Ed25519PublicKey) -> None:
        public_jwk: dict[str, Any] = OKPAlgorithm.to_jwk(public_key, as_dict=True)
        self.kid = _rfc7638(public_jwk)
        self.public_jwk = {**public_jwk, "kid": self.kid, "alg": "EdDSA", "use": "sig"}
        self.verification_key = jwt.PyJWK(self.public_jwk)


class SigningKey(PublishedKey):
    """The key that signs access and service tokens."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        super().__init__(private_key.public_key())
        self.private_key = private_key

    @classmethod
    def from_pem(cls, pem: bytes) -> "SigningKey":
        return cls(private_key_from_pem(pem))


@dataclass(frozen=True, slots=True)
class KeyRing:
    """The signing key and every key the JWKS publishes beside it."""

    current: SigningKey
    next: PublishedKey | None = None
    previous: tuple[PublishedKey, ...] = ()

    @property
    def published(self) -> list[PublishedKey]:
        """Current, next, then previous keys; a key configured twice is published once."""
        keys: dict[str, PublishedKey] = {}
        for key in (self.current, self.next, *self.previous):
            if key is not None:
                keys.setdefault(key.kid, key)
        return list(keys.values())

    def jwks(self) -> dict[str, list[dict[str, Any]]]:
        return {"keys": [key.public_jwk for key in self.published]}

    async def key_for(self, kid: str) -> jwt.PyJWK | None:
        for key in self.published:
            if key.kid == kid:
                return key.verification_key
        return None


def _generate_development_key(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # O_EXCL: when two processes start at once, one writes and the other reads its key.
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes()
    with os.fdopen(descriptor, "wb") as file:
        file.write(pem)
    logger.info("generated a development signing key in %s", path)
    return pem


def load_signing_key(settings: "Settings") -> SigningKey:
    if settings.signing_key is not None:
        return SigningKey.from_pem(settings.signing_key.get_secret_value().encode())
    if settings.signing_key_file is not None:
        return SigningKey.from_pem(settings.signing_key_file.read_bytes())
    path = settings.development_keys_dir / DEVELOPMENT_KEY_FILE
    pem = path.read_bytes() if path.exists() else _generate_development_key(path)
    return SigningKey.from_pem(pem)


def load_key_ring(settings: "Settings") -> KeyRing:
    """The signing key and the next and previous keys, as configured."""
    next_key = None
    if settings.next_signing_key is not None:
        next_pem: bytes | None = settings.next_signing_key.get_secret_value().encode()
    elif settings.next_signing_key_file is not None:
        next_pem = settings.next_signing_key_file.read_bytes()
    else:
        next_pem = None
    if next_pem is not None:
        next_key = PublishedKey(private_key_from_pem(next_pem).public_key())
    if settings.previous_signing_keys is not None:
        previous_pems = settings.previous_signing_keys.get_secret_value().encode()
    elif settings.previous_signing_keys_file is not None:
        previous_pems = settings.previous_signing_keys_file.read_bytes()
    else:
        previous_pems = b""
    previous = tuple(PublishedKey(key) for key in public_keys_from_pems(previous_pems))
    return KeyRing(current=load_signing_key(settings), next=next_key, previous=previous)
