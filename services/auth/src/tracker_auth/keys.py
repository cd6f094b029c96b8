"""The Ed25519 key that signs access tokens, and the public key set (JWKS) others verify with.

In development the key is generated once into a git-ignored folder; in production it
comes from configuration and the service refuses to start without it.
"""

import base64
import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm

from tracker_auth.config import Settings

logger = logging.getLogger(__name__)

DEVELOPMENT_KEY_FILE = "auth-signing-key.pem"


def _rfc7638(public_jwk: dict[str, Any]) -> str:
    """RFC 7638 thumbprint: a stable ``kid`` derived from the key itself."""
    members = {name: public_jwk[name] for name in ("crv", "kty", "x")}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()


class SigningKey:
    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self.private_key = private_key
        public_jwk: dict[str, Any] = OKPAlgorithm.to_jwk(private_key.public_key(), as_dict=True)
        self.kid = _rfc7638(public_jwk)
        self.public_jwk = {**public_jwk, "kid": self.kid, "alg": "EdDSA", "use": "sig"}
        self.verification_key = jwt.PyJWK(self.public_jwk)

    @classmethod
    def from_pem(cls, pem: bytes) -> "SigningKey":
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("the signing key must be an Ed25519 private key")
        return cls(key)

    def jwks(self) -> dict[str, list[dict[str, Any]]]:
        return {"keys": [self.public_jwk]}

    async def key_for(self, kid: str) -> jwt.PyJWK | None:
        return self.verification_key if kid == self.kid else None


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


def load_signing_key(settings: Settings) -> SigningKey:
    if settings.signing_key is not None:
        return SigningKey.from_pem(settings.signing_key.get_secret_value().encode())
    if settings.signing_key_file is not None:
        return SigningKey.from_pem(settings.signing_key_file.read_bytes())
    path = settings.development_keys_dir / DEVELOPMENT_KEY_FILE
    pem = path.read_bytes() if path.exists() else _generate_development_key(path)
    return SigningKey.from_pem(pem)
