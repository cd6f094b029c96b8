import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import Response
from pydantic import ValidationError

from tracker_auth.config import Settings
from tracker_auth.keys import load_signing_key
from tracker_auth.sessions.cookies import set_session_cookies
from tracker_auth.tokens import IssuedTokens

from .conftest import make_settings


def test_production_refuses_to_start_without_a_signing_key(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="AUTH_SIGNING_KEY"):
        make_settings(tmp_path, environment="production")


def test_production_refuses_insecure_cookies(tmp_path: Path) -> None:
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    production = {
        "environment": "production",
        "signing_key": pem.decode(),
        "unsubscribe_secret": "Zp7c1-generated-unsubscribe-secret-40-chars",
    }
    with pytest.raises(ValidationError, match="COOKIE_SECURE"):
        make_settings(tmp_path, **production, cookie_secure=False)
    with pytest.raises(ValidationError, match="UNSUBSCRIBE_SECRET"):
        make_settings(tmp_path, **{**production, "unsubscribe_secret": "dev-unsubscribe-secret"})

    settings = make_settings(tmp_path, **production)
    assert load_signing_key(settings).private_key.public_key() is not None


def test_an_unknown_default_timezone_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="Unknown timezone"):
        make_settings(tmp_path, default_timezone="Europe/Atlantis")


def test_development_generates_its_key_once(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "keys")

    first = load_signing_key(settings)
    second = load_signing_key(settings)

    assert first.kid == second.kid
    key_file = tmp_path / "keys" / "auth-signing-key.pem"
    assert key_file.stat().st_mode & 0o777 == 0o600


def test_a_non_ed25519_key_is_refused(tmp_path: Path) -> None:
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(ValueError, match="Ed25519"):
        load_signing_key(make_settings(tmp_path, signing_key=pem.decode()))


def test_plain_http_development_may_drop_the_secure_flag(tmp_path: Path) -> None:
    settings: Settings = make_settings(tmp_path, cookie_secure=False)
    later = datetime.now(UTC) + timedelta(minutes=5)
    response = Response()
    set_session_cookies(response, IssuedTokens(uuid.uuid4(), "a", later, "r", later), settings)

    headers = response.headers.getlist("set-cookie")
    assert len(headers) == 2
    assert all("Secure" not in header and "HttpOnly" in header for header in headers)
