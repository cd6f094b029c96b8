"""Key rotation: the JWKS publishes the next and previous keys beside the signing key."""

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import jwt
import pytest
from asgi_lifespan import LifespanManager
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI

from devsupport.accounts import bearer, register
from tests.support.forged_tokens import with_claims
from tracker_auth.config import Settings
from tracker_auth.keys import SigningKey
from tracker_auth.main import create_app
from tracker_runtime.settings import configuration_problems

from .conftest import make_settings
from .support import BASE_URL

CURRENT, NEXT, RETIRED, OLDER = (Ed25519PrivateKey.generate() for _ in range(4))
NOT_CONFIGURED = Ed25519PrivateKey.generate()


def private_pem(key: Ed25519PrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def public_pem(key: Ed25519PrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.fixture(scope="module")
async def rotating_app(keys_dir: Path, app: FastAPI) -> AsyncIterator[FastAPI]:
    """Auth mid-rotation: a next key published, two previous ones (the retired signing key
    as it was, a private PEM, and an older one by its public half) still published."""
    settings = make_settings(
        keys_dir,
        signing_key=private_pem(CURRENT),
        next_signing_key=private_pem(NEXT),
        # The current key listed again by mistake is published once.
        previous_signing_keys=private_pem(RETIRED) + public_pem(OLDER) + public_pem(CURRENT),
    )
    application = create_app(settings)
    async with LifespanManager(application):
        yield application


@pytest.fixture
async def rotating(rotating_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=rotating_app, client=("203.0.113.8", 40000))
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
        yield http


async def test_the_jwks_publishes_every_key_once(rotating: httpx.AsyncClient) -> None:
    response = await rotating.get("/.well-known/jwks.json")

    keys = response.json()["keys"]
    expected = [SigningKey(key).kid for key in (CURRENT, NEXT, RETIRED, OLDER)]
    assert [key["kid"] for key in keys] == expected
    assert len(set(expected)) == 4
    assert all("d" not in key and key["alg"] == "EdDSA" for key in keys)


async def test_tokens_are_signed_with_the_current_key_only(rotating: httpx.AsyncClient) -> None:
    token = (await register(rotating, "rotation@example.com")).access_token

    assert jwt.get_unverified_header(token)["kid"] == SigningKey(CURRENT).kid
    jwks = (await rotating.get("/.well-known/jwks.json")).json()
    current = next(key for key in jwks["keys"] if key["kid"] == SigningKey(CURRENT).kid)
    jwt.decode(token, jwt.PyJWK(current), algorithms=["EdDSA"], audience="task-tracker")


@pytest.mark.parametrize(
    ("key", "status"),
    [(RETIRED, 200), (NEXT, 200), (NOT_CONFIGURED, 401)],
    ids=["previous key", "next key", "a key not configured"],
)
async def test_tokens_of_every_published_key_verify(
    rotating: httpx.AsyncClient, key: Ed25519PrivateKey, status: int
) -> None:
    """A token of a previous key verifies until that key is dropped; one of the next key
    too, since replicas that already promoted it sign with it during a rolling update."""
    genuine = (await register(rotating, "rotation@example.com")).access_token
    rotating.cookies.clear()
    token = with_claims()(SigningKey(key), genuine)

    response = await rotating.get("/api/user", headers=bearer(token))

    assert response.status_code == status


EC_KEY = ec.generate_private_key(ec.SECP256R1())


@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        ("AUTH_SIGNING_KEY", "not a key", "not an unencrypted PEM private key"),
        ("AUTH_NEXT_SIGNING_KEY", "not a key", "not an unencrypted PEM private key"),
        ("AUTH_NEXT_SIGNING_KEY", private_pem(EC_KEY), "must be an Ed25519 private key"),
        ("AUTH_NEXT_SIGNING_KEY", public_pem(NEXT), "not an unencrypted PEM private key"),
        ("AUTH_PREVIOUS_SIGNING_KEYS", "not a key", "holds no PEM block"),
        (
            "AUTH_PREVIOUS_SIGNING_KEYS",
            public_pem(RETIRED) + public_pem(EC_KEY),
            "key 2 is not an Ed25519 key",
        ),
        (
            "AUTH_PREVIOUS_SIGNING_KEYS",
            private_pem(RETIRED)[:-40] + "-----END PRIVATE KEY-----\n",
            "key 1 cannot be read",
        ),
        ("AUTH_NEXT_SIGNING_KEY_FILE", "/nonexistent/next.pem", "cannot read /nonexistent"),
        ("AUTH_PREVIOUS_SIGNING_KEYS_FILE", "/nonexistent/old.pem", "cannot read /nonexistent"),
    ],
)
def test_production_refuses_malformed_keys_naming_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, problem: str
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("AUTH_SIGNING_KEY", private_pem(CURRENT))
    monkeypatch.setenv(variable, value)

    problems = [line for line in configuration_problems(Settings) if line.startswith(variable)]

    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{variable}: ")
    assert problem in problems[0]
    assert "PRIVATE KEY-----" not in problems[0]  # never the secret itself


def test_empty_key_variables_set_nothing(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path, next_signing_key="", previous_signing_keys="", previous_signing_keys_file=""
    )

    assert settings.next_signing_key is None
    assert settings.previous_signing_keys is None
    assert settings.previous_signing_keys_file is None
