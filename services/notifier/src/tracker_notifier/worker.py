"""The notifier's Celery app: ``celery -A tracker_notifier.worker worker -Q notifier.tasks``.

The worker runs the tasks of ``tracker_notifier.tasks`` from its own task queue and, through
a consumer step, receives events from ``notifier.events`` (see ``events.consumer``).
"""

import logging
from typing import Any

from celery import Celery, signals

from tracker_notifier.config import Settings, get_settings
from tracker_notifier.context import close_context
from tracker_notifier.events.consumer import EventsConsumerStep
from tracker_runtime.kombu_topology import task_queue_settings
from tracker_runtime.logging import configure_logging

TASK_TIME_LIMIT = 300
CHATTY_LOGGERS = ("celery.worker.strategy", "celery.app.trace")


def create_app(settings: Settings) -> Celery:
    app = Celery("tracker_notifier", include=["tracker_notifier.tasks"])
    app.conf.update(
        **task_queue_settings(settings.rabbitmq_url),
        task_ignore_result=True,
        # Late acks: a task interrupted by a dying worker is delivered again; tasks are
        # idempotent. A task that fails for good is rejected, hence dead-lettered.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=False,
        task_time_limit=TASK_TIME_LIMIT,
        worker_prefetch_multiplier=1,
        worker_cancel_long_running_tasks_on_connection_loss=True,
    )
    app.steps["consumer"].add(EventsConsumerStep)
    return app


def _configure_logging(**_: Any) -> None:
    """Connected, so Celery leaves the root logger to tracker_runtime's configuration.
    ``LOG_LEVEL`` decides, not ``--loglevel``."""
    settings = get_settings()
    configure_logging(settings.log_level, json_lines=settings.log_json)
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        # Celery logs every task's arguments (addresses included) on receipt and success;
        # the notifier's own lines say what happened, without them.
        for name in CHATTY_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)


def _close_connections(**_: Any) -> None:
    close_context()


signals.setup_logging.connect(_configure_logging, weak=False)
signals.worker_process_shutdown.connect(_close_connections, weak=False)


app = create_app(get_settings())
