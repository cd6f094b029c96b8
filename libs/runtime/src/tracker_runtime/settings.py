"""The base of every process's settings, and the one way they are loaded.

Every process (the services, the worker, beat, the prestarts, the gateway and the mail
catcher of ``make dev``) resolves its configuration the same way, through pydantic-settings:
a variable set in the process environment first, then ``.env`` in the working directory,
then the defaults written here (pinned in DESIGN.md section 6). Nothing else parses ``.env``.

A secret setting (marked :data:`FROM_FILE`: database and broker URLs, passwords, keys) may
instead be given as the path of a file holding it, in the variable of the same name with
``_FILE`` appended (``AUTH_DATABASE_URL_FILE=/run/secrets/auth_database_url``), as
Compose and Kubernetes mount secrets. The file is read where the variable would be: a
``_FILE`` in the environment wins over the variable in ``.env`` and the other way round, and
the variable and its ``_FILE`` both in the environment (or both in ``.env``) is an error.

:func:`load_settings` turns a bad configuration into one line per problem (the variable,
what is wrong, an example of a right value) instead of a traceback.
"""

import json
import os
import sys
from collections.abc import Callable, Mapping
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import urlsplit

from pydantic import AfterValidator, AliasChoices, Field, ValidationError, field_validator
from pydantic_core import ErrorDetails
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from tracker_runtime.timezones import validate_timezone

ENV_FILE = ".env"
ENV_FILE_VARIABLE = "TRACKER_ENV_FILE"
"""Names another file than ``.env``, or none when empty (the tests: a developer's ``.env``
must not change what they see)."""


FILE_SUFFIX = "_FILE"


class _FromFile:
    """The mark of a secret setting (see :data:`FROM_FILE`)."""

    def __repr__(self) -> str:
        return "FROM_FILE"


FROM_FILE = _FromFile()
"""Put in a setting's ``Annotated[...]``: the setting may also be read from the file that
its variable's ``_FILE`` names (the module's docstring says how)."""


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


def amqp_url(value: str) -> str:
    """``value`` if it is an AMQP URL RabbitMQ can be reached at."""
    parts = urlsplit(value)
    if parts.scheme not in ("amqp", "amqps") or not parts.hostname:
        raise ValueError("Not an AMQP URL")
    try:
        parts.port  # noqa: B018  (raises for a port that is not a number)
    except ValueError as error:
        raise ValueError(f"Not an AMQP URL: {error}") from error
    return value


def postgres_url(driver: str) -> Callable[[str], str]:
    """A validator of SQLAlchemy URLs of PostgreSQL through ``driver`` (asyncpg, psycopg)."""

    def validate(value: str) -> str:
        try:
            url = make_url(value)
        except ArgumentError as error:
            raise ValueError("Not a database URL") from error
        if url.drivername != f"postgresql+{driver}" or not url.database:
            raise ValueError(f"Needs a postgresql+{driver}://user@host:5432/database URL")
        return value

    return validate


AmqpUrl = Annotated[str, AfterValidator(amqp_url)]
AsyncpgUrl = Annotated[str, AfterValidator(postgres_url("asyncpg"))]
"""A service's database through asyncpg (the FastAPI services)."""
PsycopgUrl = Annotated[str, AfterValidator(postgres_url("psycopg"))]
"""A service's database through psycopg (the Celery worker)."""
Port = Annotated[int, Field(ge=1, le=65535, description="Port to listen on.")]
MetricsPort = Annotated[
    int,
    Field(ge=0, le=65535, description="Port of the process's metrics server (/metrics); 0: none."),
]
"""The metrics server of a process that serves no HTTP of its own (the worker, beat)."""


DEFAULT_RABBITMQ_URL = "amqp://guest:guest@localhost:5672/"


def broker_url(prefix: str) -> Any:
    """The ``Field`` of a process's broker URL: ``<prefix>RABBITMQ_URL`` (its own RabbitMQ
    user), else the shared ``RABBITMQ_URL``."""
    return Field(
        validation_alias=AliasChoices(f"{prefix}RABBITMQ_URL", "RABBITMQ_URL"),
        examples=["amqp://tracker-auth:password@localhost:5672/"],
    )


def variable_names(settings: type[BaseSettings], field: str) -> list[str]:
    """Every environment variable that sets ``field`` of ``settings``, first one first."""
    info = settings.model_fields.get(field)
    alias = None if info is None else info.validation_alias
    if isinstance(alias, str):
        return [alias]
    if isinstance(alias, AliasChoices):
        return [choice for choice in alias.choices if isinstance(choice, str)]
    prefix = settings.model_config.get("env_prefix", "") or ""
    return [f"{prefix}{field}".upper()]


def _read_secret_file(variable: str, path: str, where: str) -> str:
    try:
        return Path(path).read_text().rstrip("\r\n")
    except OSError as error:
        raise SettingsError(
            f"{variable}{FILE_SUFFIX} ({where}) names {path}, which cannot be read: "
            f"{error.strerror or error}"
        ) from None


def with_secret_files(
    settings: type[BaseSettings], variables: Mapping[str, str | None], *, where: str
) -> dict[str, str | None]:
    """``variables`` (of one layer: the environment, or ``.env``) with the content of the
    file each secret setting's ``<NAME>_FILE`` names as the value of ``<NAME>``."""
    resolved = dict(variables)
    lowered = {name.lower(): name for name in variables}
    for field, info in settings.model_fields.items():
        if FROM_FILE not in info.metadata:
            continue
        for variable in variable_names(settings, field):
            file_key = lowered.get(f"{variable}{FILE_SUFFIX}".lower())
            path = variables.get(file_key) if file_key is not None else None
            if not path:
                continue
            value_key = lowered.get(variable.lower())
            if value_key is not None and variables.get(value_key) not in (None, ""):
                raise SettingsError(
                    f"{variable} and {variable}{FILE_SUFFIX} are both set ({where}): "
                    "set one of them"
                )
            resolved[value_key or variable.lower()] = _read_secret_file(variable, path, where)
    return resolved


class _EnvironmentWithFiles(EnvSettingsSource):
    def _load_env_vars(self) -> Mapping[str, str | None]:
        variables = super()._load_env_vars()
        return with_secret_files(self.settings_cls, variables, where="in the environment")


class _DotEnvWithFiles(DotEnvSettingsSource):
    def _load_env_vars(self) -> Mapping[str, str | None]:
        variables = super()._load_env_vars()
        return with_secret_files(self.settings_cls, variables, where="in .env")


class ProcessSettings(BaseSettings):
    """What every process reads, the development tools of ``make dev`` included: the
    process environment first, then ``.env``, then the defaults."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True, validate_by_name=True)

    log_level: Annotated[str, Field(validation_alias="LOG_LEVEL")] = "INFO"
    log_json: Annotated[bool, Field(validation_alias="LOG_JSON")] = False

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        env_file = os.environ.get(ENV_FILE_VARIABLE, ENV_FILE) or None
        environment = _EnvironmentWithFiles(settings_cls)
        dotenv = _DotEnvWithFiles(settings_cls, env_file=env_file)
        return init_settings, environment, dotenv, file_secret_settings


class ServiceSettings(ProcessSettings):
    """Settings every service shares. Subclasses add their own, usually with a prefix."""

    environment: Annotated[Environment, Field(validation_alias="ENVIRONMENT")] = (
        Environment.DEVELOPMENT
    )
    public_url: Annotated[str, Field(validation_alias="PUBLIC_URL")] = "http://localhost:8080"
    default_timezone: Annotated[str, Field(validation_alias="DEFAULT_TIMEZONE")] = "UTC"
    rabbitmq_url: Annotated[
        AmqpUrl,
        FROM_FILE,
        Field(validation_alias="RABBITMQ_URL", examples=["amqp://guest:guest@localhost:5672/"]),
    ] = DEFAULT_RABBITMQ_URL

    @field_validator("default_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        return validate_timezone(value)

    @property
    def is_production(self) -> bool:
        return self.environment is Environment.PRODUCTION


class HttpServiceSettings(ServiceSettings):
    """An HTTP service: where it listens, and which proxies it believes."""

    host: Annotated[str, Field(description="Address to listen on.")] = "127.0.0.1"
    port: Port = 8000
    forwarded_allow_ips: Annotated[
        str,
        Field(
            validation_alias="FORWARDED_ALLOW_IPS",
            description="Proxies whose X-Forwarded-For is believed (comma-separated "
            "addresses or networks).",
        ),
    ] = "127.0.0.1"


SettingsT = TypeVar("SettingsT", bound=BaseSettings)


def _field_name(settings: type[BaseSettings], name: str) -> str | None:
    """The field that ``name`` (a field's name, or its alias as errors report it) sets."""
    if name in settings.model_fields:
        return name
    for field in settings.model_fields:
        if name in variable_names(settings, field):
            return field
    return None


def variable_name(settings: type[BaseSettings], field: str) -> str:
    """The environment variable that sets ``field`` of ``settings`` (the first of them)."""
    return variable_names(settings, field)[0]


def _problem(settings: type[BaseSettings], detail: ErrorDetails) -> str:
    location = [str(part) for part in detail["loc"]]
    field = _field_name(settings, location[0]) if location else None
    message = detail["msg"].removeprefix("Value error, ")
    if detail["type"] == "missing":
        message = "is required"
    if field is None:
        return f"configuration: {message}"
    where = variable_name(settings, field)
    if len(location) > 1:
        where += " at " + ".".join(location[1:])
    examples = settings.model_fields[field].examples
    example = f"; for example {examples[0]}" if examples else ""
    return f"{where}: {message}{example}"


def _problems(settings: type[BaseSettings], error: ValidationError | SettingsError) -> list[str]:
    if isinstance(error, ValidationError):
        return [_problem(settings, detail) for detail in error.errors(include_url=False)]
    return [f"configuration: {error}"]


def configuration_problems(settings: type[BaseSettings]) -> list[str]:
    """What is wrong with the configuration ``settings`` would load now, one line each."""
    try:
        settings()
    except (ValidationError, SettingsError) as error:
        return _problems(settings, error)
    return []


def load_settings(settings: type[SettingsT], *, process: str) -> SettingsT:
    """The settings of ``process``; on a bad configuration, print one line per problem to
    stderr and exit with status 2 (a configuration error), without a traceback."""
    try:
        return settings()
    except (ValidationError, SettingsError) as error:
        problems = _problems(settings, error)
    for problem in problems:
        print(f"{process}: {problem}", file=sys.stderr)
    raise SystemExit(2)


def json_value(value: Any) -> Any:
    """A ``before`` validator for JSON settings read without pydantic-settings' decoding
    (``NoDecode``), so that a malformed value is a validation error like any other."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError as error:
            raise ValueError(f"Not valid JSON: {error.args[0]}") from error
    return value
