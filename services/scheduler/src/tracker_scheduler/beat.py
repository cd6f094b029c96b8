"""The scheduler's Celery app: ``celery -A tracker_scheduler.beat beat``.

At every tick of ``SCHEDULER_DIGEST_CRON`` beat sends the notifier's digest task **by name**
(``tracker_contracts.messaging.DIGEST_TASK``) with the tick's instant, and every
``SCHEDULER_REMINDER_INTERVAL`` seconds the reminders tick (``REMINDERS_TASK``) with its
instant and a horizon of two intervals, within which the notifier arranges its own wake-ups
at the instants reminders fall due; no notifier code is imported. A reminders tick expires
after one interval: the next one does what it would have.

The ticks go to the notifier's quorum queue for ticks (``notifier.ticks``, apart from the
mails, so that they never wait behind them), which provisioning declares; beat declares
nothing. The digest tick expires after ``SCHEDULER_TICK_EXPIRES``: ticks that piled up
while no worker ran are discarded by the worker that takes them (never by the broker, which
would dead-letter them: ``tracker_runtime.celery_app``), and the first fresh one catches up
on them (the notifier sends every digest whose day ended within its grace period).

Beat serves its metrics (ticks sent and failed, by schedule entry) on
``SCHEDULER_METRICS_HOST:SCHEDULER_METRICS_PORT``.
"""

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from celery import Celery, signals
from celery.beat import BeatLazyFunc, PersistentScheduler
from prometheus_client import REGISTRY, Counter

from tracker_contracts.messaging import DIGEST_TASK, NOTIFIER_TICK_QUEUE, REMINDERS_TASK
from tracker_runtime.celery_app import celery_app, log_through_runtime
from tracker_runtime.kombu_topology import TICK_QUEUE
from tracker_runtime.metrics import serve_metrics
from tracker_runtime.settings import variable_name
from tracker_scheduler.config import Settings, get_settings, parse_cron

logger = logging.getLogger("tracker.scheduler")

DIGEST_ENTRY = "digest"
REMINDERS_ENTRY = "reminders"

TICKS_SENT = Counter(
    "tracker_scheduler_ticks_sent_total", "Ticks beat sent to the notifier, by entry.", ("entry",)
)
TICKS_FAILED = Counter(
    "tracker_scheduler_ticks_failed_total",
    "Ticks beat could not send (the broker was away), by entry.",
    ("entry",),
)


def tick_instant() -> str:
    """The instant of the tick being sent, in UTC, to the second."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


class DigestScheduler(PersistentScheduler):  # type: ignore[misc]
    """Beat's file-backed schedule, in a folder created on start if missing."""

    def setup_schedule(self) -> None:
        Path(self.schedule_filename).parent.mkdir(parents=True, exist_ok=True)
        super().setup_schedule()

    def apply_async(self, entry: Any, *args: Any, **kwargs: Any) -> Any:
        """Send the entry's task, counting the tick as sent or failed."""
        try:
            result = super().apply_async(entry, *args, **kwargs)
        except Exception:
            TICKS_FAILED.labels(entry.name).inc()
            raise
        TICKS_SENT.labels(entry.name).inc()
        return result


def serve_beat_metrics(**_: Any) -> None:
    settings = get_settings()
    serve_metrics(
        settings.metrics_host,
        settings.metrics_port,
        REGISTRY,
        variable=variable_name(Settings, "metrics_port"),
    )


def create_app(settings: Settings) -> Celery:
    to_notifier = {
        "queue": TICK_QUEUE,
        "exchange": TICK_QUEUE.exchange,
        "routing_key": NOTIFIER_TICK_QUEUE,
    }
    return celery_app(
        "tracker_scheduler",
        settings,
        beat_scheduler=f"{__name__}:DigestScheduler",
        beat_schedule_filename=str(settings.schedule_file),
        beat_schedule={
            DIGEST_ENTRY: {
                "task": DIGEST_TASK,
                "schedule": parse_cron(settings.digest_cron),
                "kwargs": {"at": BeatLazyFunc(tick_instant)},
                "options": {**to_notifier, "expires": settings.tick_expires},
            },
            REMINDERS_ENTRY: {
                "task": REMINDERS_TASK,
                "schedule": timedelta(seconds=settings.reminder_interval),
                "kwargs": {
                    "at": BeatLazyFunc(tick_instant),
                    "horizon": 2 * settings.reminder_interval,
                },
                "options": {**to_notifier, "expires": settings.reminder_interval},
            },
        },
    )


log_through_runtime(get_settings)
signals.beat_init.connect(serve_beat_metrics, weak=False)

app = create_app(get_settings())
