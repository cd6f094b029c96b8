"""The notifier's queues as kombu entities, for the Celery side (notifier and scheduler),
built only from ``tracker_contracts.messaging``.

They are part of the shared durable topology, which ``python -m tracker_runtime.provision``
declares with the administrator's credentials; a Celery
process never declares them (``no_declare``: kombu and Celery skip every declaration of
them), and its RabbitMQ user may not (``tracker_contracts.permissions``). They only name
what a Celery app sends to and what a worker consumes, with the arguments the contract
gives them (Celery reads ``x-queue-type`` to find quorum queues).

The notifier's Celery task queues (its tasks, and its ticks apart) are quorum queues like
the consumer queues, so a task that kills its worker every time is dead-lettered after
``DELIVERY_LIMIT`` deliveries instead of looping.
"""

from typing import Any

from kombu.entity import Exchange, Queue

from tracker_contracts.messaging import (
    DIGEST_TASK,
    NOTIFIER_TASK_EXCHANGE,
    NOTIFIER_TASK_QUEUE,
    NOTIFIER_TASKS,
    NOTIFIER_TICK_QUEUE,
    NOTIFIER_TICKS,
    REMINDERS_TASK,
    ConsumerQueue,
)

# kombu's functions carry no annotations.


def consumer_queue(queue: ConsumerQueue) -> Queue:
    """The kombu entity of a consumer's queue, to consume from (never declared here)."""
    return Queue(queue.name, durable=True, queue_arguments=queue.queue_arguments, no_declare=True)


TASK_QUEUE_ARGUMENTS = NOTIFIER_TASKS.queue_arguments
TASK_EXCHANGE = Exchange(NOTIFIER_TASK_EXCHANGE, type="topic", durable=True, no_declare=True)


def _task_queue(queue: ConsumerQueue) -> Queue:
    """A Celery task queue on the task exchange, routing key = its name."""
    return Queue(
        queue.name,
        TASK_EXCHANGE,
        routing_key=queue.name,
        durable=True,
        queue_arguments=queue.queue_arguments,
        no_declare=True,
    )


TASK_QUEUE = _task_queue(NOTIFIER_TASKS)
TICK_QUEUE = _task_queue(NOTIFIER_TICKS)
TASK_QUEUES: tuple[Queue, ...] = (TASK_QUEUE, TICK_QUEUE)
"""The notifier's task queues (each with a dead-letter queue of the shared topology)."""

TICK_ROUTE = {"queue": NOTIFIER_TICK_QUEUE, "routing_key": NOTIFIER_TICK_QUEUE}
TASK_ROUTES = {DIGEST_TASK: TICK_ROUTE, REMINDERS_TASK: TICK_ROUTE}
"""The ticks go to their own queue; every other task to the default one."""


def task_queue_settings(broker_url: str) -> dict[str, Any]:
    """Celery settings for an app that sends to (or works) the notifier's task queues: the
    queues above (never declared: provisioning does), the ticks routed to theirs, JSON
    only, and a confirm for every publish, so that "sent" means "stored by RabbitMQ"."""
    return {
        "broker_url": broker_url,
        "broker_connection_retry_on_startup": True,
        "broker_transport_options": {"confirm_publish": True},
        "task_queues": list(TASK_QUEUES),
        "task_routes": TASK_ROUTES,
        "task_default_queue": NOTIFIER_TASK_QUEUE,
        "task_default_exchange": NOTIFIER_TASK_EXCHANGE,
        "task_default_exchange_type": "topic",
        "task_default_routing_key": NOTIFIER_TASK_QUEUE,
        "task_create_missing_queues": False,
        "task_serializer": "json",
        "accept_content": ["json"],
        "worker_hijack_root_logger": False,
        "enable_utc": True,
        "timezone": "UTC",
    }
