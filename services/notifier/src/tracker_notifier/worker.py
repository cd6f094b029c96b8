"""The notifier's Celery app:
``celery -A tracker_notifier.worker worker -Q notifier.ticks,notifier.tasks``.

The worker runs the tasks of ``tracker_notifier.tasks`` from its own queues (the ticks
apart from the rest, see ``tracker_contracts.messaging``) with ``NOTIFIER_CONCURRENCY``
pool processes and, through a consumer step, receives events from ``notifier.events``
(see ``events.consumer``).
"""

from typing import Any

from celery import Celery, signals

from tracker_notifier.config import Settings, get_settings
from tracker_notifier.context import close_context
from tracker_notifier.events.consumer import EventsConsumerStep
from tracker_runtime.celery_app import celery_app, log_through_runtime

TASK_TIME_LIMIT = 300
CHATTY_LOGGERS = ("celery.worker.strategy", "celery.app.trace")
"""Celery logs every task's arguments (addresses included) on receipt and success; the
notifier's own lines say what happened, without them."""


def create_app(settings: Settings) -> Celery:
    app = celery_app(
        "tracker_notifier",
        settings,
        include=["tracker_notifier.tasks"],
        task_ignore_result=True,
        # Late acks: a task interrupted by a dying worker is delivered again; tasks are
        # idempotent. A task that fails for good is rejected, hence dead-lettered.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=False,
        task_time_limit=TASK_TIME_LIMIT,
        worker_prefetch_multiplier=1,
        worker_concurrency=settings.concurrency,
        worker_cancel_long_running_tasks_on_connection_loss=True,
    )
    app.steps["consumer"].add(EventsConsumerStep)
    return app


def _close_connections(**_: Any) -> None:
    close_context()


log_through_runtime(get_settings, quiet=CHATTY_LOGGERS)
signals.worker_process_shutdown.connect(_close_connections, weak=False)


app = create_app(get_settings())
