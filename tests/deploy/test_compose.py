"""The Compose file's configuration: what .env must hold, what happens when it does not, and
that a complete .env gives every service settings it accepts in production."""

import re
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from scripts import compose_env
from tests.deploy import compose
from tests.deploy.project import python_services, settings_class, variables
from tests.deploy.test_consistency import compose_services_running

SECRET_NAME = re.compile(r"(_PASSWORD|_SECRET|_KEY)$")


def local_env() -> dict[str, str]:
    """What `make up` writes into compose/.env."""
    return compose.parse_dotenv(
        compose_env.render(compose.ENV_EXAMPLE.read_text(), compose_env.local_values())
    )


def example() -> dict[str, str]:
    return compose.parse_dotenv(compose.ENV_EXAMPLE.read_text())


def referenced() -> list[compose.Reference]:
    return compose.references_in(compose.load_raw(compose.COMPOSE_FILE))


REQUIRED = sorted({reference.name for reference in referenced() if reference.required})


def test_the_example_lists_every_variable_the_compose_file_reads() -> None:
    missing = {reference.name for reference in referenced()} - set(example())
    assert not missing, f"compose/.env.example lacks {sorted(missing)}"


def test_the_example_holds_no_secret() -> None:
    secrets = {name: value for name, value in example().items() if SECRET_NAME.search(name)}
    assert secrets, "the example names the secrets to fill in"
    assert all(value == "" for value in secrets.values()), secrets


@pytest.mark.parametrize("name", REQUIRED)
def test_a_missing_required_variable_stops_compose_naming_it(name: str) -> None:
    environment = local_env()
    del environment[name]
    with pytest.raises(compose.MissingVariableError) as raised:
        compose.load(compose.COMPOSE_FILE, environment)
    assert raised.value.name == name
    assert name in str(raised.value)


def test_the_secrets_are_required() -> None:
    assert {"POSTGRES_PASSWORD", "RABBITMQ_PASSWORD", "AUTH_SIGNING_KEY"} <= set(REQUIRED)
    assert {name for name in example() if SECRET_NAME.search(name)} <= set(REQUIRED)


def test_the_example_alone_is_refused_until_the_secrets_are_filled_in() -> None:
    with pytest.raises(compose.MissingVariableError):
        compose.load(compose.COMPOSE_FILE, example())


def test_the_init_script_creates_the_database_of_every_service() -> None:
    services = compose.load(compose.COMPOSE_FILE, local_env())["services"]
    created = set(compose.environment_of(services["postgres"])["TRACKER_DATABASES"].split())
    used = {
        make_url(value).database
        for service in services.values()
        for name, value in compose.environment_of(service).items()
        if name.endswith("_DATABASE_URL")
    }
    assert used == created


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No variable a service reads is inherited from the test run's own environment."""
    for service in python_services():
        for variable in variables(settings_class(service)):
            for name in variable.names:
                monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(Path(__file__).parent)  # no .env here
    return monkeypatch


@pytest.mark.parametrize("service", python_services())
def test_compose_gives_each_service_settings_it_accepts_in_production(
    service: str, clean_environment: pytest.MonkeyPatch
) -> None:
    services = compose.load(compose.COMPOSE_FILE, local_env())["services"]
    for name in compose_services_running(service):
        with clean_environment.context() as patch:
            for variable, value in compose.environment_of(services[name]).items():
                patch.setenv(variable, value)
            settings = settings_class(service)(_env_file=None)
            assert getattr(settings, "is_production", False), name
