"""What every Celery process (the notifier's worker, the scheduler's beat) wires, once: the
app with the shared configuration, expiry left to the worker, and logging through
``tracker_runtime.logging``."""

import logging
from collections.abc import Callable, Iterable
from typing import Any

from celery import Celery, signals

from tracker_runtime.kombu_topology import task_queue_settings
from tracker_runtime.logging import configure_logging
from tracker_runtime.settings import ProcessSettings, ServiceSettings


def expire_in_the_worker_only(properties: dict[str, Any], **_: Any) -> None:
    """Send a task with ``expires`` without the AMQP ``expiration`` Celery derives from it.

    Celery turns ``expires`` into the message's TTL as well as its ``expires`` header. But
    every queue of the notifier dead-letters what expires in it (its dead-letter exchange
    is there for the poison tasks that exceed the delivery limit), so a tick that outlived
    its ``expires`` while no worker took it (the notifier down or busy) would pile up in
    ``notifier.ticks.dead-letter`` for ever, among the real failures. Without the TTL it
    waits in its queue until a worker takes it, and the worker, which checks the
    ``expires`` header of every task it receives, discards it unrun and acknowledges it:
    it leaves no trace, and only a task that fails every delivery is dead-lettered."""
    properties.pop("expiration", None)


def celery_app(
    main: str, settings: ServiceSettings, *, include: Iterable[str] = (), **conf: Any
) -> Celery:
    """A Celery app that sends to (or works) the notifier's task queue as declared in
    ``tracker_runtime.kombu_topology``, with the process's own ``conf`` on top; what it
    sends expires in the worker only (:func:`expire_in_the_worker_only`)."""
    app = Celery(main, include=list(include) or None)
    app.conf.update(**task_queue_settings(settings.rabbitmq_url), **conf)
    signals.before_task_publish.connect(
        expire_in_the_worker_only, weak=False, dispatch_uid="tracker.expire_in_the_worker_only"
    )
    return app


def log_through_runtime(
    settings: Callable[[], ProcessSettings], *, quiet: Iterable[str] = ()
) -> Callable[..., None]:
    """Configure logging as every process does when Celery sets it up: connected to
    ``setup_logging``, so Celery leaves the root logger alone and ``LOG_LEVEL`` decides,
    not ``--loglevel``. ``quiet`` loggers only say warnings unless the level is DEBUG.
    Returns the connected receiver."""
    quiet = tuple(quiet)

    def configure(**_: Any) -> None:
        current = settings()
        configure_logging(current.log_level, json_lines=current.log_json)
        if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
            for name in quiet:
                logging.getLogger(name).setLevel(logging.WARNING)

    signals.setup_logging.connect(configure, weak=False)
    return configure
