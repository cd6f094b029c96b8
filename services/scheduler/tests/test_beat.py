"""Beat sends the ticks by name to the notifier's queue for ticks, on the real broker."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from celery import Celery
from kombu.entity import Queue

from devsupport.network import free_port
from devsupport.processes import spawn, stop_process
from devsupport.rabbitmq import ensure_rabbitmq_vhost
from tests.support.metrics import sample
from tracker_contracts.messaging import (
    DEAD_LETTER_EXCHANGE,
    DELIVERY_LIMIT,
    DIGEST_TASK,
    NOTIFIER_TASK_EXCHANGE,
    NOTIFIER_TICK_QUEUE,
    NOTIFIER_TICKS,
    REMINDERS_TASK,
)
from tracker_runtime.kombu_topology import TICK_QUEUE as NOTIFIER_TICK_QUEUE_DECLARATION
from tracker_scheduler.beat import DIGEST_ENTRY, REMINDERS_ENTRY, DigestScheduler, create_app
from tracker_scheduler.config import Settings

from .conftest import broker, queue_depth, take_message

TICK_EXPIRES = 120.0
REMINDER_INTERVAL = 7.0
SCHEDULE_FILES = "celerybeat-schedule*"


@pytest.fixture
def settings(tmp_path: Path, rabbitmq_url: str) -> Settings:
    return Settings(
        _env_file=None,
        rabbitmq_url=rabbitmq_url,
        data_dir=tmp_path / "state" / "beat",
        digest_cron="*/5 * * * *",
        tick_expires=TICK_EXPIRES,
        reminder_interval=REMINDER_INTERVAL,
    )


@pytest.fixture
def app(settings: Settings) -> Iterator[Celery]:
    application = create_app(settings)
    try:
        yield application
    finally:
        application.close()


@pytest.fixture
def scheduler(app: Celery, settings: Settings) -> Iterator[Any]:
    """Beat's scheduler as ``celery beat`` builds it (kombu and celery are unannotated)."""
    beat = DigestScheduler(app=app, schedule_filename=str(settings.schedule_file))
    try:
        yield beat
    finally:
        beat.close()


def send_tick(scheduler: Any) -> None:
    """Send the digest entry now, raising on failure (``apply_entry`` only logs)."""
    scheduler.apply_async(scheduler.schedule[DIGEST_ENTRY], producer=scheduler.producer)


def assert_is_a_digest_tick(message: Any, sent_at: datetime) -> None:
    assert message.headers["task"] == DIGEST_TASK
    assert message.content_type == "application/json"
    assert message.properties["delivery_mode"] == 2  # persistent
    assert message.delivery_info["exchange"] == NOTIFIER_TASK_EXCHANGE
    assert message.delivery_info["routing_key"] == NOTIFIER_TICK_QUEUE

    args, kwargs, _embed = message.payload
    assert args == []
    assert set(kwargs) == {"at"}
    at = datetime.fromisoformat(kwargs["at"])
    assert at.utcoffset() == timedelta(0)
    assert abs(at - sent_at) < timedelta(seconds=5)

    expires = message.headers["expires"]
    assert expires is not None
    expires_at = datetime.fromisoformat(expires)
    assert expires_at.utcoffset() is not None
    assert abs(expires_at - (sent_at + timedelta(seconds=TICK_EXPIRES))) < timedelta(seconds=5)
    # The worker alone expires it: a TTL would have the queue dead-letter an expired tick.
    assert "expiration" not in message.properties


def test_the_scheduler_creates_its_data_dir_and_schedule(app: Celery, settings: Settings) -> None:
    assert not settings.data_dir.exists()

    beat = DigestScheduler(app=app, schedule_filename=str(settings.schedule_file))
    try:
        entry = beat.schedule[DIGEST_ENTRY]
    finally:
        beat.close()

    assert settings.data_dir.is_dir()
    assert list(settings.data_dir.glob(SCHEDULE_FILES))
    assert entry.task == DIGEST_TASK
    assert entry.schedule.minute == set(range(0, 60, 5))
    assert entry.options["expires"] == TICK_EXPIRES


def test_the_tick_is_sent_by_name_with_its_instant(
    scheduler: Any, task_queue: str, rabbitmq_url: str
) -> None:
    assert DIGEST_TASK not in scheduler.app.tasks  # no notifier code: sent by name alone
    sent_at = datetime.now(UTC)

    send_tick(scheduler)

    assert_is_a_digest_tick(take_message(rabbitmq_url), sent_at)
    assert queue_depth(rabbitmq_url) == 0


def test_a_due_entry_is_sent_by_beats_own_tick(
    scheduler: Any, task_queue: str, rabbitmq_url: str
) -> None:
    """The path ``celery beat`` takes: its loop finds the entry due and publishes it with
    its own producer."""
    entry = scheduler.schedule[DIGEST_ENTRY]
    entry.last_run_at = datetime.now(UTC) - timedelta(hours=1)
    sent_at = datetime.now(UTC)
    counted = sample("tracker_scheduler_ticks_sent_total", entry=DIGEST_ENTRY)

    scheduler.tick()

    assert_is_a_digest_tick(take_message(rabbitmq_url), sent_at)
    assert scheduler.schedule[DIGEST_ENTRY].total_run_count == entry.total_run_count + 1
    assert sample("tracker_scheduler_ticks_sent_total", entry=DIGEST_ENTRY) == counted + 1


def test_the_reminders_tick_goes_every_interval_by_name_with_its_horizon(
    scheduler: Any, task_queue: str, rabbitmq_url: str
) -> None:
    entry = scheduler.schedule[REMINDERS_ENTRY]
    assert entry.schedule.run_every == timedelta(seconds=REMINDER_INTERVAL)
    assert REMINDERS_TASK not in scheduler.app.tasks
    entry.last_run_at = datetime.now(UTC) - timedelta(seconds=REMINDER_INTERVAL + 1)
    sent_at = datetime.now(UTC)

    scheduler.tick()

    message = take_message(rabbitmq_url)
    assert message.headers["task"] == REMINDERS_TASK
    assert message.delivery_info["routing_key"] == NOTIFIER_TICK_QUEUE
    args, kwargs, _embed = message.payload
    assert args == []
    assert kwargs["horizon"] == 2 * REMINDER_INTERVAL
    assert abs(datetime.fromisoformat(kwargs["at"]) - sent_at) < timedelta(seconds=5)
    expires_at = datetime.fromisoformat(message.headers["expires"])
    assert abs(expires_at - (sent_at + timedelta(seconds=REMINDER_INTERVAL))) < timedelta(seconds=3)
    assert queue_depth(rabbitmq_url) == 0  # the digest entry was not due


def test_each_tick_carries_its_own_instant(
    scheduler: Any, task_queue: str, rabbitmq_url: str
) -> None:
    send_tick(scheduler)
    time.sleep(1.1)
    send_tick(scheduler)

    first, second = take_message(rabbitmq_url), take_message(rabbitmq_url)

    instants = [datetime.fromisoformat(m.payload[1]["at"]) for m in (first, second)]
    assert instants[1] > instants[0]
    assert first.headers["id"] != second.headers["id"]


def test_the_tick_is_sent_to_the_provisioned_queue(
    scheduler: Any, task_queue: str, rabbitmq_url: str
) -> None:
    send_tick(scheduler)

    assert take_message(rabbitmq_url).delivery_info["routing_key"] == NOTIFIER_TICK_QUEUE


EXPECTED_ARGUMENTS = {
    "x-queue-type": "quorum",
    "x-delivery-limit": DELIVERY_LIMIT,
    "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
    "x-dead-letter-routing-key": NOTIFIER_TICK_QUEUE,
}


def test_the_scheduler_declares_nothing(scheduler: Any, rabbitmq_url: str) -> None:
    """Beat only sends: the queue is the shared topology's, which provisioning declares
    (beat's user may not). Deleted, a tick does not bring it back; provisioned again, it
    has the contract's arguments, which RabbitMQ compares."""
    with broker(rabbitmq_url) as connection:
        connection.default_channel.queue_delete(NOTIFIER_TICK_QUEUE)
    try:
        send_tick(scheduler)
        with broker(rabbitmq_url) as connection:
            refused = pytest.raises(connection.channel_errors, match="NOT_FOUND")
            with refused:
                connection.default_channel.queue_declare(NOTIFIER_TICK_QUEUE, passive=True)
    finally:
        ensure_rabbitmq_vhost(rabbitmq_url)

    with broker(rabbitmq_url) as connection:
        Queue(NOTIFIER_TICK_QUEUE, durable=True, queue_arguments=EXPECTED_ARGUMENTS)(
            connection.channel()
        ).declare()
        with pytest.raises(connection.channel_errors, match="PRECONDITION_FAILED"):
            Queue(
                NOTIFIER_TICK_QUEUE,
                durable=True,
                queue_arguments={**EXPECTED_ARGUMENTS, "x-queue-type": "classic"},
            )(connection.channel()).declare()


def test_the_tick_queue_is_the_contracts() -> None:
    assert NOTIFIER_TICK_QUEUE_DECLARATION.name == NOTIFIER_TICK_QUEUE
    assert getattr(NOTIFIER_TICK_QUEUE_DECLARATION, "no_declare", False)
    assert NOTIFIER_TICKS.queue_arguments == EXPECTED_ARGUMENTS


def test_the_scheduler_imports_no_notifier_code() -> None:
    probe = (
        "import sys, tracker_scheduler.beat; "
        "sys.exit(sorted(m for m in sys.modules if m.startswith('tracker_notifier')) or 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )

    assert result.returncode == 0, result.stderr


# -- the real process ---------------------------------------------------------------------


def test_celery_beat_starts_keeps_its_schedule_and_stops_cleanly_on_sigterm(
    tmp_path: Path, rabbitmq_url: str, task_queue: str
) -> None:
    data_dir = tmp_path / "data"
    log = tmp_path / "beat.log"
    environment = {
        **os.environ,
        "ENVIRONMENT": "test",
        "LOG_LEVEL": "INFO",
        "LOG_JSON": "false",
        "RABBITMQ_URL": rabbitmq_url,
        "SCHEDULER_DATA_DIR": str(data_dir),
        "SCHEDULER_DIGEST_CRON": "0 0 1 1 *",
        "SCHEDULER_METRICS_PORT": str(metrics_port := free_port()),
    }
    process = spawn(
        [sys.executable, "-m", "celery", "-A", "tracker_scheduler.beat", "beat"],
        log=log,
        environment=environment,
        cwd=tmp_path,
    )
    try:
        deadline = time.monotonic() + 30
        while not list(data_dir.glob(SCHEDULE_FILES)):
            assert process.poll() is None, f"beat exited early:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"no schedule file after 30s:\n{log.read_text()}"
            time.sleep(0.1)
        time.sleep(1)  # into its loop
        assert process.poll() is None, f"beat exited:\n{log.read_text()}"
        metrics = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5)
        assert metrics.status_code == 200
        assert metrics.headers["content-type"].startswith("text/plain")
        assert "# TYPE tracker_scheduler_ticks_sent_total counter" in metrics.text

        returncode = stop_process(process, group=False, timeout=20)
    finally:
        stop_process(process, signal_number=signal.SIGKILL)

    output_text = log.read_text(errors="replace")
    assert returncode == 0, output_text
    assert "Traceback" not in output_text
    assert "beat: Starting..." in output_text
    assert list(data_dir.glob(SCHEDULE_FILES))
    assert queue_depth(rabbitmq_url) == 0  # not due: nothing sent
