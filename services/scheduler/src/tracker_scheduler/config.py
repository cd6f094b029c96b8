"""Settings of the scheduler, from the environment (and ``.env`` in development).

Exactly one beat should run (Compose pins one replica). A second one is harmless, only
wasteful: the notifier claims each (user, day) digest in its database before sending, so
two ticks for the same instant send one mail.
"""

from functools import lru_cache
from pathlib import Path
from typing import Annotated

from celery.schedules import ParseException, crontab
from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from tracker_runtime.settings import (
    DEFAULT_RABBITMQ_URL,
    FROM_FILE,
    AmqpUrl,
    MetricsPort,
    ServiceSettings,
    broker_url,
    load_settings,
)


def parse_cron(expression: str) -> crontab:
    """A crontab from five fields (minute hour day-of-month month day-of-week), in UTC."""
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(
            f"a cron expression has five fields (minute hour day month weekday): {expression!r}"
        )
    minute, hour, day_of_month, month_of_year, day_of_week = fields
    try:
        return crontab(
            minute=minute,
            hour=hour,
            day_of_month=day_of_month,
            month_of_year=month_of_year,
            day_of_week=day_of_week,
        )
    except (ParseException, ValueError) as error:
        raise ValueError(f"not a valid cron expression: {expression!r} ({error})") from error


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SCHEDULER_")

    rabbitmq_url: Annotated[AmqpUrl, FROM_FILE, broker_url("SCHEDULER_")] = DEFAULT_RABBITMQ_URL
    digest_cron: Annotated[
        str, Field(description="When the digest ticks, as a cron expression in UTC.")
    ] = "*/5 * * * *"
    tick_expires: Annotated[
        float,
        Field(
            gt=0,
            description="Seconds after which an unconsumed tick is dropped; the next tick "
            "catches up on what it would have done.",
        ),
    ] = 240.0
    reminder_interval: Annotated[
        float,
        Field(
            ge=1,
            le=60,
            description="Seconds between reminders ticks. Each tick fires what is due and "
            "arranges a wake-up at each second a reminder falls due before the tick after "
            "next, so reminders go out on time whatever the interval; it bounds how late "
            "one goes when a wake-up is lost.",
        ),
    ] = 10.0
    data_dir: Annotated[Path, Field(description="Writable folder for beat's schedule state.")] = (
        Path(".run/scheduler")
    )
    metrics_host: Annotated[str, Field(description="Address of beat's metrics server.")] = (
        "127.0.0.1"
    )
    metrics_port: MetricsPort = 9102

    @field_validator("digest_cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        parse_cron(value)  # raises ValueError for a malformed expression
        return value

    @property
    def schedule_file(self) -> Path:
        return self.data_dir / "celerybeat-schedule"


@lru_cache
def get_settings() -> Settings:
    return load_settings(Settings, process="scheduler")
