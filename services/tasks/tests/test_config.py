import pytest
from pydantic import ValidationError

from tracker_tasks.config import Settings


def test_settings_come_from_tasks_prefixed_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKS_DATABASE_URL", "postgresql+asyncpg://db.internal/tasks")
    monkeypatch.setenv("TASKS_JWKS_URL", "http://auth.internal/.well-known/jwks.json")
    monkeypatch.setenv("TASKS_MAX_PAGE_SIZE", "100")
    monkeypatch.setenv("RABBITMQ_URL", "amqp://broker.internal/")

    settings = Settings(_env_file=None)

    assert settings.database_url == "postgresql+asyncpg://db.internal/tasks"
    assert settings.jwks_url == "http://auth.internal/.well-known/jwks.json"
    assert settings.max_page_size == 100
    assert settings.rabbitmq_url == "amqp://broker.internal/"


def test_defaults_match_the_development_setup(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TASKS_DATABASE_URL", "TASKS_JWKS_URL"):
        monkeypatch.delenv(name, raising=False)

    settings = Settings(_env_file=None)

    assert settings.database_url == (
        "postgresql+asyncpg://tracker_tasks:dev-tracker-tasks@localhost:5432/tracker_tasks"
    )
    assert settings.jwks_url == "http://127.0.0.1:8001/.well-known/jwks.json"
    assert (settings.issuer, settings.audience) == ("task-tracker-auth", "task-tracker")
    assert (settings.default_page_size, settings.max_page_size) == (50, 200)


def test_the_default_page_must_fit_the_maximum() -> None:
    with pytest.raises(ValidationError, match="TASKS_DEFAULT_PAGE_SIZE"):
        Settings.model_validate({"default_page_size": 300, "max_page_size": 200})
