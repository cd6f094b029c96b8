from datetime import timedelta

import pytest
from pydantic import ValidationError

from tracker_notifier.config import Settings, SmtpSecurity

from .conftest import make_settings

PRODUCTION = {
    "environment": "production",
    "smtp_host": "smtp.example.org",
    "smtp_port": 587,
    "smtp_security": "starttls",
    "smtp_username": "tracker",
    "smtp_password": "a-long-generated-secret",
    "client_secret": "k3Vq9-generated-client-secret-of-40-chars",
    "unsubscribe_secret": "Zp7c1-generated-unsubscribe-secret-40-chars",
}


def test_pinned_names_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "NOTIFIER_DATABASE_URL": "postgresql+psycopg://db/notifier",
        "RABBITMQ_URL": "amqp://u:p@broker:5672/",
        "SMTP_HOST": "smtp.example.org",
        "SMTP_PORT": "465",
        "SMTP_USERNAME": "tracker",
        "SMTP_PASSWORD": "s3cret-from-vault",
        "SMTP_SECURITY": "tls",
        "MAIL_FROM": "Tracker <mail@example.org>",
        "PUBLIC_URL": "https://tracker.example.org",
        "DEFAULT_TIMEZONE": "Europe/Berlin",
    }.items():
        monkeypatch.setenv(name, value)

    settings = Settings(_env_file=None)

    assert settings.database_url == "postgresql+psycopg://db/notifier"
    assert settings.rabbitmq_url == "amqp://u:p@broker:5672/"
    assert (settings.smtp_host, settings.smtp_port) == ("smtp.example.org", 465)
    assert settings.smtp_security is SmtpSecurity.TLS
    assert settings.smtp_password is not None
    assert settings.smtp_password.get_secret_value() == "s3cret-from-vault"
    assert "s3cret" not in repr(settings)
    assert settings.mail_from_address.domain == "example.org"
    assert settings.default_timezone == "Europe/Berlin"


def test_production_accepts_real_settings() -> None:
    settings = make_settings(**PRODUCTION)
    assert settings.is_production


@pytest.mark.parametrize(
    ("override", "complaint"),
    [
        ({"smtp_password": "changeme"}, "SMTP_PASSWORD"),
        ({"smtp_password": None}, "SMTP_PASSWORD"),
        ({"smtp_security": "none"}, "clear text"),
        ({"smtp_host": "localhost", "smtp_port": 1025}, "mail catcher"),
        ({"mail_from": "task-tracker <no-reply@localhost>"}, "MAIL_FROM"),
        ({"public_url": "http://localhost:8080"}, "PUBLIC_URL"),
        ({"client_secret": "dev-notifier-secret"}, "NOTIFIER_CLIENT_SECRET"),
        ({"unsubscribe_secret": "dev-unsubscribe-secret"}, "UNSUBSCRIBE_SECRET"),
        ({"unsubscribe_secret": "short"}, "UNSUBSCRIBE_SECRET"),
    ],
)
def test_production_refuses_development_placeholders(
    override: dict[str, object], complaint: str
) -> None:
    with pytest.raises(ValidationError, match=complaint):
        make_settings(**{**PRODUCTION, **override})


def test_development_defaults_point_at_the_mail_catcher() -> None:
    settings = make_settings(environment="development", mail_from="x <no-reply@localhost>")
    assert (settings.smtp_host, settings.smtp_port) == ("localhost", 1025)
    assert settings.smtp_security is SmtpSecurity.NONE


@pytest.mark.parametrize(
    ("override", "complaint"),
    [
        ({"mail_from": "nobody"}, "MAIL_FROM"),
        ({"default_timezone": "Mars/Olympus"}, "Unknown timezone"),
        ({"smtp_security": "ssl"}, "smtp_security"),
    ],
)
def test_invalid_values_are_refused(override: dict[str, object], complaint: str) -> None:
    with pytest.raises(ValidationError, match=complaint):
        make_settings(**override)


def test_the_age_of_a_stuck_send_is_an_iso_8601_duration(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings(_env_file=None).stale_sending_after == timedelta(hours=1)
    monkeypatch.setenv("NOTIFIER_STALE_SENDING_AFTER", "PT15M")
    assert Settings(_env_file=None).stale_sending_after == timedelta(minutes=15)
    monkeypatch.setenv("NOTIFIER_STALE_SENDING_AFTER", "PT0S")
    with pytest.raises(ValidationError, match="stale_sending_after"):
        Settings(_env_file=None)
