"""Settings of the notifier, from the environment (and ``.env`` in development).

The names shared with operators are pinned (DESIGN.md section 6) and carry no prefix;
the notifier's own knobs use the ``NOTIFIER_`` prefix.
"""

from datetime import timedelta
from email.headerregistry import Address
from email.utils import parseaddr
from enum import StrEnum
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Annotated, Self
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from tracker_runtime.settings import (
    DEFAULT_RABBITMQ_URL,
    FROM_FILE,
    AmqpUrl,
    MetricsPort,
    PsycopgUrl,
    ServiceSettings,
    broker_url,
    load_settings,
)
from tracker_runtime.unsubscribe import (
    DEVELOPMENT_SECRET,
    UnsubscribeSecret,
    check_production_secret,
)

DEVELOPMENT_PASSWORDS = frozenset(
    {"", "changeme", "change-me", "change_me", "password", "secret", "dev", "development"}
)
"""SMTP passwords that only ever belong in a development ``.env``."""

LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
MIN_INBOX_RETENTION = timedelta(days=1)


def _outlives_redeliveries(value: timedelta) -> timedelta:
    if value < MIN_INBOX_RETENTION:
        raise ValueError(
            "must be at least a day (P1D): RabbitMQ redelivers an unsettled event, and a "
            "dead-lettered one may be replayed, long after it was first handled"
        )
    return value


class SmtpSecurity(StrEnum):
    NONE = "none"
    STARTTLS = "starttls"
    TLS = "tls"


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFIER_")

    database_url: Annotated[PsycopgUrl, FROM_FILE] = (
        "postgresql+psycopg://tracker_notifier:dev-tracker-notifier@localhost:5432/tracker_notifier"
    )
    rabbitmq_url: Annotated[AmqpUrl, FROM_FILE, broker_url("NOTIFIER_")] = DEFAULT_RABBITMQ_URL
    database_pool_size: Annotated[int, Field(ge=1)] = 2

    smtp_host: Annotated[str, Field(validation_alias="SMTP_HOST")] = "localhost"
    smtp_port: Annotated[int, Field(validation_alias="SMTP_PORT", ge=1, le=65535)] = 1025
    smtp_username: Annotated[str | None, Field(validation_alias="SMTP_USERNAME")] = None
    smtp_password: Annotated[
        SecretStr | None, FROM_FILE, Field(validation_alias="SMTP_PASSWORD")
    ] = None
    smtp_security: Annotated[SmtpSecurity, Field(validation_alias="SMTP_SECURITY")] = (
        SmtpSecurity.NONE
    )
    smtp_timeout: Annotated[float, Field(gt=0, description="Seconds per SMTP command.")] = 30.0
    mail_from: Annotated[str, Field(validation_alias="MAIL_FROM")] = (
        "task-tracker <no-reply@localhost>"
    )

    concurrency: Annotated[
        int,
        Field(
            ge=1,
            description="Worker pool processes (more than the cores may pay off where the "
            "SMTP server or the database is slow to answer).",
        ),
    ] = 2
    smtp_connections: Annotated[
        int,
        Field(
            ge=1,
            description="SMTP connections per pool process: a batch of mails is shared "
            "between them and sent side by side, so that a mail server (or a busy machine) "
            "slow to answer does not hold up the whole batch.",
        ),
    ] = 4
    events_prefetch: Annotated[
        int, Field(ge=1, description="Unacknowledged events the consumer step may hold.")
    ] = 16
    max_send_attempts: Annotated[
        int, Field(ge=1, description="SMTP attempts per mail before it is marked failed.")
    ] = 10
    retry_base_delay: Annotated[
        float, Field(ge=1, description="Seconds before the first retry; doubles each time.")
    ] = 10.0
    retry_max_delay: Annotated[float, Field(ge=1)] = 1800.0

    tasks_url: Annotated[
        str, Field(description="Base URL of the tasks service's internal API (summaries).")
    ] = "http://127.0.0.1:8002"
    auth_url: Annotated[
        str, Field(description="Base URL of the auth service, which issues service tokens.")
    ] = "http://127.0.0.1:8001"
    client_id: Annotated[str, Field(description="The notifier's client id at auth.")] = "notifier"
    client_secret: Annotated[
        SecretStr,
        FROM_FILE,
        Field(description="The notifier's client secret (AUTH_SERVICE_CLIENTS)."),
    ] = SecretStr("dev-notifier-secret")
    http_timeout: Annotated[float, Field(gt=0, description="Seconds per internal HTTP call.")] = (
        10.0
    )
    unsubscribe_secret: UnsubscribeSecret = SecretStr(DEVELOPMENT_SECRET)

    digest_grace: Annotated[
        timedelta,
        Field(
            gt=timedelta(0),
            le=timedelta(hours=23),
            description="How long after a user's midnight their digest may still go out: "
            "ticks missed for less than this are caught up (ISO 8601 duration or seconds).",
        ),
    ] = timedelta(hours=6)
    stale_sending_after: Annotated[
        timedelta,
        Field(
            gt=timedelta(0),
            description="How long a mail may stay 'sending' before the digest tick hands it "
            "to a sender again: its worker died mid-send (ISO 8601 duration or seconds).",
        ),
    ] = timedelta(hours=1)
    inbox_retention: Annotated[
        timedelta,
        Field(
            gt=timedelta(0),
            description="How long a handled event's id is kept to skip its redeliveries. "
            "Must exceed the longest an event can come back from RabbitMQ: a redelivery, or "
            "a replay from the dead-letter queue, which should happen within it (ISO 8601 "
            "duration or seconds; at least a day).",
        ),
        AfterValidator(_outlives_redeliveries),
    ] = timedelta(days=7)
    delivery_retention: Annotated[
        timedelta,
        Field(
            gt=timedelta(0),
            description="How long a sent or failed mail is kept after it was created "
            "(ISO 8601 duration or seconds).",
        ),
    ] = timedelta(days=90)
    reminder_grace: Annotated[
        timedelta,
        Field(
            gt=timedelta(0),
            description="How late a reminder may still go out: one that fell due longer ago "
            "when the notifier gets to it (after an outage) is skipped and counted (ISO 8601 "
            "duration or seconds).",
        ),
    ] = timedelta(hours=1)
    digest_batch_size: Annotated[
        int, Field(ge=1, le=500, description="Users per summaries request and transaction.")
    ] = 500

    metrics_host: Annotated[
        str, Field(description="Address of the worker's metrics server (its main process).")
    ] = "127.0.0.1"
    metrics_port: MetricsPort = 9101
    metrics_dir: Annotated[
        Path | None,
        Field(
            description="Folder where each process of the worker's pool writes its metrics "
            "(emptied when the worker starts); unset: a new temporary folder each start."
        ),
    ] = None
    heartbeat_file: Annotated[
        Path,
        Field(
            description="File the worker touches every NOTIFIER_HEARTBEAT_INTERVAL while its "
            "main loop runs; the liveness probe reads its age."
        ),
    ] = Path(".run/notifier/heartbeat")
    heartbeat_interval: Annotated[
        float, Field(ge=1, le=60, description="Seconds between two touches of the heartbeat.")
    ] = 10.0

    @field_validator("smtp_username", mode="before")
    @classmethod
    def _empty_username_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("mail_from")
    @classmethod
    def _mail_from_is_an_address(cls, value: str) -> str:
        _, address = parseaddr(value)
        if "@" not in address:
            raise ValueError(f"MAIL_FROM must hold an address such as 'name <a@b.org>': {value!r}")
        Address(addr_spec=address)  # raises for an address the mail headers cannot carry
        return value

    @cached_property
    def mail_from_address(self) -> Address:
        display_name, address = parseaddr(self.mail_from)
        return Address(display_name=display_name, addr_spec=address)

    @model_validator(mode="after")
    def _refuse_development_shortcuts_in_production(self) -> Self:
        if self.retry_max_delay < self.retry_base_delay:
            raise ValueError("NOTIFIER_RETRY_MAX_DELAY must not be below NOTIFIER_RETRY_BASE_DELAY")
        if not self.is_production:
            return self
        check_production_secret(self.unsubscribe_secret)
        secret = self.client_secret.get_secret_value()
        if secret.startswith("dev-") or len(secret) < 32:
            raise ValueError(
                "NOTIFIER_CLIENT_SECRET needs a random value of at least 32 characters"
            )
        if self.smtp_username is not None and (
            self.smtp_password is None
            or self.smtp_password.get_secret_value().lower() in DEVELOPMENT_PASSWORDS
        ):
            raise ValueError("SMTP_PASSWORD is missing or a development placeholder")
        if (
            self.smtp_username is not None
            and self.smtp_security is SmtpSecurity.NONE
            and self.smtp_host not in LOCAL_HOSTS
        ):
            raise ValueError("SMTP_SECURITY=none would send the SMTP password in clear text")
        if self.smtp_host in LOCAL_HOSTS and self.smtp_port == 1025:
            raise ValueError("SMTP_HOST/SMTP_PORT point at the development mail catcher")
        if self.mail_from_address.domain in LOCAL_HOSTS:
            raise ValueError("MAIL_FROM must use a real domain in production")
        if urlsplit(self.public_url).hostname in LOCAL_HOSTS:
            raise ValueError("PUBLIC_URL must be the public address in production")
        return self


@lru_cache
def get_settings() -> Settings:
    return load_settings(Settings, process="notifier")
