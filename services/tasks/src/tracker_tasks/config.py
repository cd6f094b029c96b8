"""Settings of the tasks service, from the environment (and ``.env`` in development)."""

from datetime import timedelta
from functools import lru_cache
from typing import Annotated, Self

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from tracker_runtime.settings import (
    DEFAULT_RABBITMQ_URL,
    FROM_FILE,
    AmqpUrl,
    AsyncpgUrl,
    HttpServiceSettings,
    Port,
    broker_url,
    load_settings,
)


class Settings(HttpServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TASKS_")

    port: Port = 8002
    database_url: Annotated[AsyncpgUrl, FROM_FILE] = (
        "postgresql+asyncpg://tracker_tasks:dev-tracker-tasks@localhost:5432/tracker_tasks"
    )
    rabbitmq_url: Annotated[AmqpUrl, FROM_FILE, broker_url("TASKS_")] = DEFAULT_RABBITMQ_URL
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

    stream_keepalive_interval: Annotated[
        timedelta, Field(gt=timedelta(0), le=timedelta(seconds=20))
    ] = Field(
        default=timedelta(seconds=15),
        description="How often an idle live stream (GET /api/tasks/events) gets a comment "
        "line, so that proxies keep it open (at most 20 seconds; the gateway's read timeout "
        "must be longer).",
    )
    stream_retention: Annotated[timedelta, Field(ge=timedelta(minutes=10))] = Field(
        default=timedelta(hours=1),
        description="How long each task change is kept for live streams that reconnect "
        "(Last-Event-ID); at least ten minutes. Older ones get `event: resync`.",
    )
    stream_replay_limit: Annotated[int, Field(ge=1000)] = Field(
        default=1000,
        description="The most changes a stream sends to catch up at once (a reconnection, a "
        "client reading slowly); beyond that it gets `event: resync` instead. At least 1000.",
    )
    stream_cleanup_interval: timedelta = Field(
        default=timedelta(minutes=5),
        description="How often task changes older than TASKS_STREAM_RETENTION are deleted.",
    )

    @model_validator(mode="after")
    def _page_sizes_fit(self) -> Self:
        if self.default_page_size > self.max_page_size:
            raise ValueError("TASKS_DEFAULT_PAGE_SIZE must not exceed TASKS_MAX_PAGE_SIZE")
        return self


@lru_cache
def get_settings() -> Settings:
    return load_settings(Settings, process="tasks")
