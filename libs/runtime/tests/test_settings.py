"""The one way every process loads its settings: environment, then .env, then defaults;
and a bad configuration as one line per problem instead of a traceback."""

from pathlib import Path
from typing import Annotated

import pytest
from pydantic import BeforeValidator, Field
from pydantic_settings import NoDecode, SettingsConfigDict

from tracker_runtime.settings import (
    ENV_FILE_VARIABLE,
    ServiceSettings,
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


@pytest.fixture(autouse=True)
def in_empty_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(ENV_FILE_VARIABLE)  # read .env, as every process does
    for name in ("EXAMPLE_PORT", "EXAMPLE_CLIENTS", "RABBITMQ_URL", "DEFAULT_TIMEZONE"):
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
