"""What every Celery process wires: the shared configuration, and logging on Celery's
``setup_logging`` signal."""

import logging

from celery import signals

from tracker_contracts.messaging import (
    DIGEST_TASK,
    NOTIFIER_TASK_QUEUE,
    NOTIFIER_TICK_QUEUE,
    REMINDERS_TASK,
    SEND_DELIVERIES_TASK,
)
from tracker_runtime.celery_app import celery_app, log_through_runtime
from tracker_runtime.settings import ProcessSettings, ServiceSettings


def test_the_app_has_the_shared_configuration_and_its_own() -> None:
    app = celery_app("example", ServiceSettings(), task_time_limit=12)
    assert app.main == "example"
    assert app.conf.task_default_queue == NOTIFIER_TASK_QUEUE
    assert app.conf.worker_hijack_root_logger is False
    assert app.conf.task_time_limit == 12


def test_the_ticks_are_routed_apart_from_the_mails() -> None:
    app = celery_app("example", ServiceSettings())
    route = app.amqp.router.route
    for tick in (DIGEST_TASK, REMINDERS_TASK):
        assert route({}, tick)["queue"].name == NOTIFIER_TICK_QUEUE
    assert route({}, SEND_DELIVERIES_TASK)["queue"].name == NOTIFIER_TASK_QUEUE


def test_logging_is_configured_when_celery_sets_it_up() -> None:
    chatty = logging.getLogger("tests.celery.chatty")
    chatty.setLevel(logging.NOTSET)
    root = logging.getLogger()
    level, handlers = root.level, root.handlers[:]
    receiver = log_through_runtime(lambda: ProcessSettings(log_level="INFO"), quiet=[chatty.name])
    try:
        signals.setup_logging.send(sender=None)
        assert root.level == logging.INFO
        assert chatty.level == logging.WARNING
    finally:
        signals.setup_logging.disconnect(receiver)
        root.setLevel(level)
        root.handlers[:] = handlers
        chatty.setLevel(logging.NOTSET)
