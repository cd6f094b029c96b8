"""The scheduler's settings: the digest's cron expression is checked when they load."""

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from tracker_scheduler.config import Settings, parse_cron


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)


def test_the_defaults_are_valid() -> None:
    defaults = settings()

    assert defaults.digest_cron == "*/5 * * * *"
    assert defaults.tick_expires > 0
    assert defaults.schedule_file == defaults.data_dir / "celerybeat-schedule"


def test_the_names_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCHEDULER_DIGEST_CRON", "15 3 * * mon-fri")
    monkeypatch.setenv("SCHEDULER_DATA_DIR", "/var/lib/scheduler")
    monkeypatch.setenv("SCHEDULER_TICK_EXPIRES", "90")
    monkeypatch.setenv("RABBITMQ_URL", "amqp://u:p@broker:5672/tracker")

    loaded = settings()

    assert loaded.digest_cron == "15 3 * * mon-fri"
    assert loaded.data_dir == Path("/var/lib/scheduler")
    assert loaded.schedule_file == Path("/var/lib/scheduler/celerybeat-schedule")
    assert loaded.tick_expires == 90
    assert loaded.rabbitmq_url == "amqp://u:p@broker:5672/tracker"


@pytest.mark.parametrize(
    "cron",
    [
        "*/5 * * * *",
        "0 0 1 1 *",
        "30 2 * * 1-5",
        "0,30 */2 1-15 jan-jun sun",
        "  0 0   * * *  ",
    ],
)
def test_a_good_cron_is_accepted(cron: str) -> None:
    assert settings(digest_cron=cron).digest_cron == cron


def test_the_cron_fields_are_minute_hour_day_month_weekday() -> None:
    schedule = parse_cron("30 2 15 6 1-5")

    assert schedule.minute == {30}
    assert schedule.hour == {2}
    assert schedule.day_of_month == {15}
    assert schedule.month_of_year == {6}
    assert schedule.day_of_week == {1, 2, 3, 4, 5}


@pytest.mark.parametrize(
    "cron",
    [
        pytest.param("0 0 * *", id="four fields"),
        pytest.param("0 0 * * * *", id="six fields (seconds)"),
        pytest.param("", id="empty"),
        pytest.param("@daily", id="a nickname"),
    ],
)
def test_a_cron_without_five_fields_is_refused(cron: str) -> None:
    with pytest.raises(ValidationError, match="five fields"):
        settings(digest_cron=cron)


@pytest.mark.parametrize(
    "cron",
    [
        pytest.param("60 * * * *", id="minute 60"),
        pytest.param("0 24 * * *", id="hour 24"),
        pytest.param("0 0 32 * *", id="day 32"),
        pytest.param("0 0 0 * *", id="day 0"),
        pytest.param("0 0 * 13 *", id="month 13"),
        pytest.param("0 0 * * 8", id="weekday 8"),
        pytest.param("*/0 * * * *", id="step 0"),
        pytest.param("x * * * *", id="a word"),
        pytest.param("0 0 * * funday", id="an unknown weekday"),
        pytest.param("0 0 L * *", id="an extension"),
        pytest.param("1,,2 * * * *", id="an empty list item"),
        pytest.param("*/ * * * *", id="an empty step"),
    ],
)
def test_a_cron_with_a_bad_field_is_refused(cron: str) -> None:
    with pytest.raises(ValidationError, match="digest_cron"):
        settings(digest_cron=cron)


@pytest.mark.parametrize("seconds", [0, -1])
def test_ticks_must_expire_after_a_positive_time(seconds: float) -> None:
    with pytest.raises(ValidationError, match="tick_expires"):
        settings(tick_expires=seconds)
