"""Settings of the tasks service, from the environment (and ``.env`` in development)."""

from datetime import timedelta
from functools import lru_cache
from typing import Annotated, Self

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from tracker_runtime.settings import AsyncpgUrl, HttpServiceSettings, Port, load_settings


class Settings(HttpServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TASKS_")

    port: Port = 8002
    database_url: AsyncpgUrl = "postgresql+asyncpg://postgres@localhost:5432/tracker_tasks"
    database_pool_size: int = 10

    jwks_url: str = Field(
        default="http://127.0.0.1:8001/.well-known/jwks.json",
        description="The auth service's public keys; access tokens are verified with them.",
    )
    issuer: str = "task-tracker-auth"
    audience: str = "task-tracker"

    default_page_size: Annotated[int, Field(ge=1)] = 50
    max_page_size: Annotated[int, Field(ge=1)] = 200

    broker_max_backoff: Annotated[float, Field(gt=0)] = Field(
        default=30.0,
        description="Longest wait, in seconds, between attempts to reach RabbitMQ.",
    )
    revocation_cleanup_interval: timedelta = Field(
        default=timedelta(minutes=10),
        description="How often revoked sessions whose tokens have all expired are forgotten.",
    )
    revocation_grace: timedelta = Field(
        default=timedelta(minutes=5),
        description="How long a revoked session is remembered past its last token's expiry "
        "(covers the verifier's leeway and clock skew between auth and tasks).",
    )

    @model_validator(mode="after")
    def _page_sizes_fit(self) -> Self:
        if self.default_page_size > self.max_page_size:
            raise ValueError("TASKS_DEFAULT_PAGE_SIZE must not exceed TASKS_MAX_PAGE_SIZE")
        return self


@lru_cache
def get_settings() -> Settings:
    return load_settings(Settings, process="tasks")
