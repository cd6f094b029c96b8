"""The one way every process loads its settings: environment, then .env, then defaults;
and a bad configuration as one line per problem instead of a traceback."""

from pathlib import Path
from typing import Annotated

import pytest
from pydantic import BeforeValidator, Field, SecretStr
from pydantic_settings import NoDecode, SettingsConfigDict

from tracker_runtime.settings import (
    DEFAULT_RABBITMQ_URL,
    ENV_FILE_VARIABLE,
    FROM_FILE,
    AmqpUrl,
    ServiceSettings,
    broker_url,
    configuration_problems,
    json_value,
    load_settings,
    variable_name,
)


class ExampleSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="EXAMPLE_")

    port: int = 8000
    clients: Annotated[
        dict[str, list[str]],
        NoDecode,
        BeforeValidator(json_value),
        Field(default_factory=dict, examples=['{"notifier": ["tasks:summaries"]}']),
    ]
    password: Annotated[SecretStr | None, FROM_FILE] = None


class OwnBrokerSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="EXAMPLE_")

    rabbitmq_url: Annotated[AmqpUrl, FROM_FILE, broker_url("EXAMPLE_")] = DEFAULT_RABBITMQ_URL


VARIABLES = (
    "EXAMPLE_PORT",
    "EXAMPLE_CLIENTS",
    "EXAMPLE_PASSWORD",
    "EXAMPLE_RABBITMQ_URL",
    "RABBITMQ_URL",
    "DEFAULT_TIMEZONE",
)


@pytest.fixture(autouse=True)
def in_empty_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(ENV_FILE_VARIABLE)  # read .env, as every process does
    for name in (*VARIABLES, *(f"{name}_FILE" for name in VARIABLES)):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def test_the_environment_wins_over_env_file_which_wins_over_defaults(
    in_empty_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (in_empty_folder / ".env").write_text(
        'EXAMPLE_PORT=9000\nEXAMPLE_CLIENTS={"notifier": ["a", "b"]}\n'
        "DEFAULT_TIMEZONE=Europe/Berlin\n"
    )
    monkeypatch.setenv("EXAMPLE_PORT", "9100")

    settings = ExampleSettings()

    assert settings.port == 9100
    assert settings.clients == {"notifier": ["a", "b"]}, "JSON in .env, quotes and all"
    assert settings.default_timezone == "Europe/Berlin"
    assert settings.rabbitmq_url == "amqp://guest:guest@localhost:5672/"


def test_every_problem_is_one_line_naming_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXAMPLE_PORT", "eighty")
    monkeypatch.setenv("EXAMPLE_CLIENTS", "{notifier: [tasks]}")
    monkeypatch.setenv("RABBITMQ_URL", "localhost:5672")
    monkeypatch.setenv("DEFAULT_TIMEZONE", "Mars/Olympus_Mons")

    problems = configuration_problems(ExampleSettings)

    assert sorted(problem.split(":", 1)[0] for problem in problems) == [
        "DEFAULT_TIMEZONE",
        "EXAMPLE_CLIENTS",
        "EXAMPLE_PORT",
        "RABBITMQ_URL",
    ]
    [clients] = [problem for problem in problems if problem.startswith("EXAMPLE_CLIENTS")]
    assert "Not valid JSON" in clients
    assert clients.endswith('for example {"notifier": ["tasks:summaries"]}')


def test_loading_a_bad_configuration_exits_with_the_lines_and_no_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RABBITMQ_URL", "amqp://")

    with pytest.raises(SystemExit) as stopped:
        load_settings(ExampleSettings, process="example")

    assert stopped.value.code == 2
    assert capsys.readouterr().err == (
        "example: RABBITMQ_URL: Not an AMQP URL; for example amqp://guest:guest@localhost:5672/\n"
    )


def test_variable_names_follow_the_prefix_or_the_alias() -> None:
    assert variable_name(ExampleSettings, "port") == "EXAMPLE_PORT"
    assert variable_name(ExampleSettings, "rabbitmq_url") == "RABBITMQ_URL"


def test_another_file_or_none_can_stand_for_env(
    in_empty_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (in_empty_folder / ".env").write_text("EXAMPLE_PORT=9000\n")
    (in_empty_folder / "staging.env").write_text("EXAMPLE_PORT=9200\n")

    monkeypatch.setenv(ENV_FILE_VARIABLE, "staging.env")
    assert ExampleSettings().port == 9200
    monkeypatch.setenv(ENV_FILE_VARIABLE, "")
    assert ExampleSettings().port == 8000


def test_a_secret_setting_may_be_read_from_the_file_its_file_variable_names(
    in_empty_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = in_empty_folder / "password"
    secret.write_text("s3cret value\n")  # as `echo` or a secret store writes it
    monkeypatch.setenv("EXAMPLE_PASSWORD_FILE", str(secret))
    monkeypatch.setenv("EXAMPLE_PORT_FILE", str(secret))  # not a secret setting: ignored

    settings = ExampleSettings()

    assert settings.password is not None
    assert settings.password.get_secret_value() == "s3cret value"
    assert settings.port == 8000


def test_a_variable_and_its_file_both_set_in_one_place_is_an_error(
    in_empty_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (in_empty_folder / "password").write_text("from the file")
    monkeypatch.setenv("EXAMPLE_PASSWORD", "from the variable")
    monkeypatch.setenv("EXAMPLE_PASSWORD_FILE", str(in_empty_folder / "password"))

    assert configuration_problems(ExampleSettings) == [
        "configuration: EXAMPLE_PASSWORD and EXAMPLE_PASSWORD_FILE are both set (in the "
        "environment): set one of them"
    ]

    monkeypatch.delenv("EXAMPLE_PASSWORD")
    monkeypatch.delenv("EXAMPLE_PASSWORD_FILE")
    (in_empty_folder / ".env").write_text(
        f"EXAMPLE_PASSWORD=from .env\nEXAMPLE_PASSWORD_FILE={in_empty_folder / 'password'}\n"
    )
    assert configuration_problems(ExampleSettings) == [
        "configuration: EXAMPLE_PASSWORD and EXAMPLE_PASSWORD_FILE are both set (in .env): "
        "set one of them"
    ]


def test_the_environment_wins_over_env_file_whether_a_value_or_a_file(
    in_empty_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (in_empty_folder / "password").write_text("from the file")
    (in_empty_folder / ".env").write_text("EXAMPLE_PASSWORD=from .env\n")
    monkeypatch.setenv("EXAMPLE_PASSWORD_FILE", str(in_empty_folder / "password"))
    assert ExampleSettings().password == SecretStr("from the file")

    monkeypatch.delenv("EXAMPLE_PASSWORD_FILE")
    (in_empty_folder / ".env").write_text(f"EXAMPLE_PASSWORD_FILE={in_empty_folder / 'password'}\n")
    monkeypatch.setenv("EXAMPLE_PASSWORD", "from the environment")
    assert ExampleSettings().password == SecretStr("from the environment")


def test_a_file_that_cannot_be_read_is_one_line_naming_its_variable(
    in_empty_folder: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = in_empty_folder / "nowhere"
    monkeypatch.setenv("EXAMPLE_PASSWORD_FILE", str(missing))

    with pytest.raises(SystemExit):
        load_settings(ExampleSettings, process="example")

    assert capsys.readouterr().err == (
        f"example: configuration: EXAMPLE_PASSWORD_FILE (in the environment) names {missing}, "
        "which cannot be read: No such file or directory\n"
    )


def test_a_process_reads_its_own_broker_url_first_then_the_shared_one(
    in_empty_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = "amqp://guest:guest@localhost:5672/shared"
    own = "amqp://tracker-example:pw@localhost:5672/shared"
    monkeypatch.setenv("RABBITMQ_URL", shared)
    assert OwnBrokerSettings().rabbitmq_url == shared

    (in_empty_folder / "url").write_text(own)
    monkeypatch.setenv("EXAMPLE_RABBITMQ_URL_FILE", str(in_empty_folder / "url"))
    assert OwnBrokerSettings().rabbitmq_url == own
    assert variable_name(OwnBrokerSettings, "rabbitmq_url") == "EXAMPLE_RABBITMQ_URL"

    monkeypatch.setenv("EXAMPLE_RABBITMQ_URL", "localhost")
    monkeypatch.delenv("EXAMPLE_RABBITMQ_URL_FILE")
    [problem] = configuration_problems(OwnBrokerSettings)
    assert problem.startswith("EXAMPLE_RABBITMQ_URL: Not an AMQP URL")
