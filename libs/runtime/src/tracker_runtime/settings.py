"""The base of every service's pydantic-settings class."""

from enum import StrEnum
from typing import Annotated

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class ServiceSettings(BaseSettings):
    """Settings every service shares. Subclasses add their own, usually with a prefix."""

    model_config = SettingsConfigDict(
        env_file=".env", extra="ignore", frozen=True, validate_by_name=True
    )

    environment: Annotated[Environment, Field(validation_alias="ENVIRONMENT")] = (
        Environment.DEVELOPMENT
    )
    log_level: Annotated[str, Field(validation_alias="LOG_LEVEL")] = "INFO"
    log_json: Annotated[bool, Field(validation_alias="LOG_JSON")] = False
    public_url: Annotated[str, Field(validation_alias="PUBLIC_URL")] = "http://localhost:8080"
    default_timezone: Annotated[str, Field(validation_alias="DEFAULT_TIMEZONE")] = "UTC"
    rabbitmq_url: Annotated[str, Field(validation_alias="RABBITMQ_URL")] = (
        "amqp://guest:guest@localhost:5672/"
    )

    @property
    def is_production(self) -> bool:
        return self.environment is Environment.PRODUCTION
