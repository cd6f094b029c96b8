"""The Compose file's configuration: what .env must hold, what happens when it does not, that
secrets reach the containers only as files, and that a complete .env with the secrets
`scripts/compose_env.py` writes gives every service settings it accepts in production."""

import re
from pathlib import Path

import pytest

from scripts import compose_env
from tests.deploy import compose
from tests.deploy.project import has_prestart, python_services, settings_class, variables
from tests.deploy.test_consistency import compose_services_running

SECRET_NAME = re.compile(r"(_PASSWORD|_SECRET|_KEY)$")
SECRET_OR_URL = re.compile(r"(_PASSWORD|_SECRET|_KEY|_CLIENTS|_URL)$")
"""Names of secrets, and of URLs, which may carry credentials."""
NOT_SECRETS = {"TASKS_JWKS_URL", "NOTIFIER_TASKS_URL", "NOTIFIER_AUTH_URL", "PUBLIC_URL"}
"""Names that look like secrets and are not: the addresses of the stack's own services."""


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


def test_no_secret_is_a_variable() -> None:
    """Neither .env nor the Compose file holds a secret: every one is a file of secrets/."""
    assert not [n for n in example() if SECRET_OR_URL.search(n) and n not in NOT_SECRETS]
    assert not [
        ref.name
        for ref in referenced()
        if SECRET_OR_URL.search(ref.name) and ref.name not in NOT_SECRETS
    ]
    for name, service in compose.load_raw(compose.COMPOSE_FILE)["services"].items():
        written = [
            variable
            for variable, value in compose.environment_of(service).items()
            if SECRET_OR_URL.search(variable)
            and variable not in NOT_SECRETS
            and not value.startswith(compose.SECRETS_MOUNT)
        ]
        assert not written, f"{name} gets {written} in its environment"


def test_every_secret_is_a_file_that_compose_env_writes() -> None:
    declared = compose.load_raw(compose.COMPOSE_FILE)["secrets"]
    assert set(declared) == set(compose_env.new_secrets())
    assert all(secret == {"file": f"./secrets/{name}"} for name, secret in declared.items())


@pytest.mark.parametrize("name", sorted(compose.load_raw(compose.COMPOSE_FILE)["services"]))
def test_a_service_mounts_every_secret_it_names(name: str) -> None:
    service = compose.load_raw(compose.COMPOSE_FILE)["services"][name]
    mounted = set(compose.secrets_of(service).values())
    named = {
        value
        for value in compose.environment_of(service).values()
        if value.startswith(compose.SECRETS_MOUNT)
    }
    assert named <= mounted, f"{name} names {named - mounted} without mounting them"


@pytest.mark.parametrize("name", REQUIRED)
def test_a_missing_required_variable_stops_compose_naming_it(name: str) -> None:
    environment = local_env()
    del environment[name]
    with pytest.raises(compose.MissingVariableError) as raised:
        compose.load(compose.COMPOSE_FILE, environment)
    assert raised.value.name == name
    assert name in str(raised.value)


def test_the_example_alone_is_refused_until_the_secrets_are_filled_in() -> None:
    with pytest.raises(compose.MissingVariableError):
        compose.load(compose.COMPOSE_FILE, example())


def test_provision_runs_first_with_what_every_service_connects_with() -> None:
    """`provision` gets every database and broker URL a service connects with (the same
    secret), and every service, its migrations first, waits for it to finish."""
    services = compose.load_raw(compose.COMPOSE_FILE)["services"]
    provision = services["provision"]
    assert provision["entrypoint"] == ["python", "-m", "tracker_runtime.provision"]
    given = compose.environment_of(provision)
    for name, service in services.items():
        for variable, value in compose.environment_of(service).items():
            if variable.endswith(("_DATABASE_URL", "_RABBITMQ_URL")):
                assert given.get(variable) == value, f"{name}: {variable}"
    for service in python_services():
        first = f"migrate-{service}" if has_prestart(service) else service
        waits = services[first]["depends_on"]
        assert waits["provision"] == {"condition": "service_completed_successfully"}, first


def test_the_gateway_binds_where_the_operator_says() -> None:
    """All addresses by default; 127.0.0.1 when a TLS proxy on the host fronts it."""
    ports = compose.load_raw(compose.COMPOSE_FILE)["services"]["frontend"]["ports"]
    assert ports == ["${HTTP_BIND_ADDRESS:-0.0.0.0}:${HTTP_PORT:-80}:8080"]
    assert example()["HTTP_BIND_ADDRESS"] == "0.0.0.0"  # noqa: S104 (what Docker binds by default)
    local = compose.load(compose.COMPOSE_FILE, {**local_env(), "HTTP_BIND_ADDRESS": "127.0.0.1"})
    assert local["services"]["frontend"]["ports"] == ["127.0.0.1:80:8080"]


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
    secrets = compose_env.new_secrets()
    for name in compose_services_running(service):
        with clean_environment.context() as patch:
            for variable, value in compose.environment_of(services[name], secrets).items():
                patch.setenv(variable, value)
            settings = settings_class(service)(_env_file=None)
            assert getattr(settings, "is_production", False), name
