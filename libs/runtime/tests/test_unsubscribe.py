"""Signed one-click unsubscribe tokens, and the production check on their secret."""

import base64
import hmac
import secrets
import string
import uuid
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import SecretStr, ValidationError

from tracker_auth.config import Settings as AuthSettings
from tracker_notifier.config import Settings as NotifierSettings
from tracker_runtime import unsubscribe

SECRET = "k" * 24 + secrets.token_urlsafe(24)
ALPHABET = string.ascii_letters + string.digits + "-_"
USER_ID = uuid.UUID("0b6f4e8a-3c55-4d1e-9a57-2f1c0d9e7b43")


def test_a_signed_token_names_its_user() -> None:
    user_id = uuid.uuid4()

    token = unsubscribe.sign(user_id, SECRET)

    assert unsubscribe.verify(token, SECRET) == unsubscribe.Unsubscription(
        user_id, unsubscribe.MailList.DIGEST
    )
    assert len(token) <= 64
    assert set(token) <= set(ALPHABET)  # safe in a URL as it is


def test_signing_is_deterministic_and_differs_per_user() -> None:
    assert unsubscribe.sign(USER_ID, SECRET) == unsubscribe.sign(USER_ID, SECRET)
    assert unsubscribe.sign(USER_ID, SECRET) != unsubscribe.sign(uuid.uuid4(), SECRET)


def test_the_link_carries_the_token_on_the_auth_path() -> None:
    link = unsubscribe.link("https://tracker.example.org/", USER_ID, SECRET)

    parts = urlsplit(link)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "https",
        "tracker.example.org",
        unsubscribe.PATH,
    )
    [token] = parse_qs(parts.query)["token"]
    verified = unsubscribe.verify(token, SECRET)
    assert verified is not None
    assert verified.user_id == USER_ID


def test_a_token_signed_with_another_secret_is_refused() -> None:
    token = unsubscribe.sign(USER_ID, "another secret of a good length, not ours")

    assert unsubscribe.verify(token, SECRET) is None


def test_a_token_for_another_user_under_a_genuine_mac_is_refused() -> None:
    genuine = unsubscribe.sign(USER_ID, SECRET)
    other = unsubscribe.sign(uuid.uuid4(), SECRET)
    # The first 22 characters carry (most of) the user id, the rest the MAC.
    spliced = other[:21] + genuine[21:]

    assert unsubscribe.verify(spliced, SECRET) is None


@pytest.mark.parametrize("position", range(43))
def test_changing_any_character_of_a_token_is_refused(position: int) -> None:
    token = unsubscribe.sign(USER_ID, SECRET)
    assert len(token) == 43

    accepted = [
        replacement
        for replacement in ALPHABET
        if replacement != token[position]
        and unsubscribe.verify(token[:position] + replacement + token[position + 1 :], SECRET)
        is not None
    ]

    assert accepted == [], f"position {position}: {token[position]!r} -> {accepted}"


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda token: token[:-1], id="one character short"),
        pytest.param(lambda token: token[:22], id="the user id alone"),
        pytest.param(lambda token: token + "A", id="one character more"),
        pytest.param(lambda token: token + "AAAA", id="three bytes more"),
        pytest.param(lambda token: token + token, id="twice"),
        pytest.param(lambda token: "A" * 65, id="longer than 64"),
        pytest.param(lambda token: token + "A" * 30, id="a genuine prefix, too long"),
        pytest.param(lambda token: "", id="empty"),
        pytest.param(lambda token: "A", id="one character"),
    ],
)
def test_tokens_of_the_wrong_length_are_refused(change: Callable[[str], str]) -> None:
    token = unsubscribe.sign(USER_ID, SECRET)

    assert unsubscribe.verify(change(token), SECRET) is None


@pytest.mark.parametrize(
    "malformed",
    [
        pytest.param(lambda token: "!!" + token, id="junk before"),
        pytest.param(lambda token: token[:10] + "...." + token[10:], id="junk inside"),
        pytest.param(lambda token: token + "%%%%", id="junk after"),
        pytest.param(lambda token: token + "=", id="padding added"),
        pytest.param(lambda token: token[:10] + " " + token[10:], id="a space"),
        pytest.param(lambda token: token[:10] + "\n" + token[10:], id="a newline"),
        pytest.param(lambda token: token[:10] + "\x00" + token[10:], id="a NUL"),
        pytest.param(lambda token: "é" * 43, id="not ASCII"),
        pytest.param(
            lambda token: token.replace("-", "+").replace("_", "/"), id="standard alphabet"
        ),
    ],
)
def test_malformed_tokens_are_refused(malformed: Callable[[str], str]) -> None:
    token = next(
        candidate
        for candidate in (unsubscribe.sign(uuid.uuid4(), SECRET) for _ in range(1000))
        if "-" in candidate or "_" in candidate
    )

    assert unsubscribe.verify(malformed(token), SECRET) is None


# -- tokens of the reminders --------------------------------------------------------------


def test_a_reminders_token_names_its_user_and_the_reminders() -> None:
    token = unsubscribe.sign(USER_ID, SECRET, unsubscribe.MailList.REMINDERS)

    assert unsubscribe.verify(token, SECRET) == unsubscribe.Unsubscription(
        USER_ID, unsubscribe.MailList.REMINDERS
    )
    assert len(token) == unsubscribe.LIST_TOKEN_LENGTH
    assert set(token) <= set(ALPHABET)
    assert token != unsubscribe.sign(USER_ID, SECRET)


def test_a_digest_token_made_before_reminders_existed_still_turns_the_digest_off() -> None:
    """The first format, computed here by hand: every digest link already mailed works."""
    mac = hmac.new(SECRET.encode(), b"task-tracker/unsubscribe/v1:" + USER_ID.bytes, "sha256")
    old = base64.urlsafe_b64encode(USER_ID.bytes + mac.digest()[:16]).decode().rstrip("=")

    assert unsubscribe.verify(old, SECRET) == unsubscribe.Unsubscription(
        USER_ID, unsubscribe.MailList.DIGEST
    )
    assert unsubscribe.sign(USER_ID, SECRET) == old


def test_a_digest_token_cannot_be_turned_into_a_reminders_one_or_back() -> None:
    digest = unsubscribe.sign(USER_ID, SECRET)
    reminders = unsubscribe.sign(USER_ID, SECRET, unsubscribe.MailList.REMINDERS)
    raw_digest = base64.urlsafe_b64decode(digest + "=")
    raw_reminders = base64.urlsafe_b64decode(reminders)

    forged = [
        # the digest's MAC under the reminders' kind byte
        raw_digest[:16] + bytes([1]) + raw_digest[16:],
        # the reminders' token without its kind byte
        raw_reminders[:16] + raw_reminders[17:],
        # another kind byte with the reminders' MAC
        raw_reminders[:16] + bytes([2]) + raw_reminders[17:],
    ]

    for raw in forged:
        token = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        assert unsubscribe.verify(token, SECRET) is None


@pytest.mark.parametrize("position", range(44))
def test_changing_any_character_of_a_reminders_token_is_refused(position: int) -> None:
    token = unsubscribe.sign(USER_ID, SECRET, unsubscribe.MailList.REMINDERS)

    accepted = [
        replacement
        for replacement in ALPHABET
        if replacement != token[position]
        and unsubscribe.verify(token[:position] + replacement + token[position + 1 :], SECRET)
        is not None
    ]

    assert accepted == [], f"position {position}: {token[position]!r} -> {accepted}"


def test_the_reminders_link_carries_its_own_token() -> None:
    link = unsubscribe.link(
        "https://tracker.example.org", USER_ID, SECRET, unsubscribe.MailList.REMINDERS
    )

    [token] = parse_qs(urlsplit(link).query)["token"]
    verified = unsubscribe.verify(token, SECRET)
    assert verified is not None
    assert verified.mail_list is unsubscribe.MailList.REMINDERS


# -- the secret in production -------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        unsubscribe.DEVELOPMENT_SECRET,
        "dev-" + secrets.token_urlsafe(40),
        secrets.token_urlsafe(40)[: unsubscribe.MIN_SECRET_LENGTH - 1],
        "",
    ],
    ids=["the development default", "a dev- prefix", "one character short", "empty"],
)
def test_production_refuses_a_development_or_short_secret(value: str) -> None:
    with pytest.raises(ValueError, match="UNSUBSCRIBE_SECRET"):
        unsubscribe.check_production_secret(SecretStr(value))


def test_production_accepts_a_random_secret() -> None:
    unsubscribe.check_production_secret(SecretStr(secrets.token_urlsafe(32)[:32]))


def _auth_production(secret: str) -> AuthSettings:
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return AuthSettings(
        _env_file=None,
        environment="production",
        signing_key=pem.decode(),
        unsubscribe_secret=secret,
    )


def _notifier_production(secret: str) -> NotifierSettings:
    return NotifierSettings(
        _env_file=None,
        environment="production",
        public_url="https://tracker.example.org",
        mail_from="task-tracker <no-reply@tracker.example.org>",
        smtp_host="smtp.example.org",
        smtp_port=587,
        smtp_security="starttls",
        smtp_username="tracker",
        smtp_password="a-long-generated-secret",
        client_secret=secrets.token_urlsafe(40),
        unsubscribe_secret=secret,
    )


Production = Callable[[str], AuthSettings | NotifierSettings]
SERVICES = [
    pytest.param(_auth_production, id="auth"),
    pytest.param(_notifier_production, id="notifier"),
]


@pytest.mark.parametrize("production", SERVICES)
@pytest.mark.parametrize(
    "value",
    [unsubscribe.DEVELOPMENT_SECRET, "dev-" + secrets.token_urlsafe(40), "s" * 31],
    ids=["the development default", "a dev- prefix", "too short"],
)
def test_the_services_refuse_a_weak_secret_in_production(
    production: Production, value: str
) -> None:
    with pytest.raises(ValidationError, match="UNSUBSCRIBE_SECRET"):
        production(value)


@pytest.mark.parametrize("production", SERVICES)
def test_the_services_accept_a_random_secret_in_production(production: Production) -> None:
    secret = secrets.token_urlsafe(40)

    settings = production(secret)

    assert settings.is_production
    assert settings.unsubscribe_secret.get_secret_value() == secret
