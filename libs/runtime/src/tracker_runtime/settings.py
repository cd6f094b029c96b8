"""The base of every process's settings, and the one way they are loaded.

Every process (the services, the worker, beat, the prestarts, the gateway and the mail
catcher of ``make dev``) resolves its configuration the same way, through pydantic-settings:
a variable set in the process environment first, then ``.env`` in the working directory,
then the defaults written here (pinned in DESIGN.md section 6). Nothing else parses ``.env``.

:func:`load_settings` turns a bad configuration into one line per problem (the variable,
what is wrong, an example of a right value) instead of a traceback.
"""

import json
import os
import sys
from collections.abc import Callable
from enum import StrEnum
from typing import Annotated, Any, TypeVar
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, ValidationError, field_validator
from pydantic_core import ErrorDetails
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
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
        dotenv = DotEnvSettingsSource(settings_cls, env_file=env_file)
        return init_settings, env_settings, dotenv, file_secret_settings


class ServiceSettings(ProcessSettings):
    """Settings every service shares. Subclasses add their own, usually with a prefix."""

    environment: Annotated[Environment, Field(validation_alias="ENVIRONMENT")] = (
        Environment.DEVELOPMENT
    )
    public_url: Annotated[str, Field(validation_alias="PUBLIC_URL")] = "http://localhost:8080"
    default_timezone: Annotated[str, Field(validation_alias="DEFAULT_TIMEZONE")] = "UTC"
    rabbitmq_url: Annotated[
        AmqpUrl,
        Field(validation_alias="RABBITMQ_URL", examples=["amqp://guest:guest@localhost:5672/"]),
    ] = "amqp://guest:guest@localhost:5672/"

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
    for field, info in settings.model_fields.items():
        if info.validation_alias == name:
            return field
    return None


def variable_name(settings: type[BaseSettings], field: str) -> str:
    """The environment variable that sets ``field`` of ``settings``."""
    info = settings.model_fields.get(field)
    if info is not None and isinstance(info.validation_alias, str):
        return info.validation_alias
    prefix = settings.model_config.get("env_prefix", "") or ""
    return f"{prefix}{field}".upper()


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
