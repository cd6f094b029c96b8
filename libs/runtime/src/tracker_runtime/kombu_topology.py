"""The RabbitMQ topology as kombu entities, for the Celery side (notifier and scheduler).

Built only from ``tracker_contracts.messaging``, with the same types, durability and arguments the
FastAPI services declare through aio-pika: RabbitMQ refuses a declaration that differs
(PRECONDITION_FAILED), so nothing here may add to it.

The notifier's Celery task queues (its tasks, and its ticks apart) are quorum queues like
the consumer queues (their arguments come from the same contract), so a task that kills its
worker every time is dead-lettered after ``DELIVERY_LIMIT`` deliveries instead of looping.
The scheduler sends to the same queues and must declare them identically, which is why
both take them from here.
"""

from typing import Any

from kombu.entity import Exchange, Queue, binding

from tracker_contracts.messaging import (
    DEAD_LETTER_EXCHANGE,
    DIGEST_TASK,
    EXCHANGES,
    NOTIFIER_TASK_EXCHANGE,
    NOTIFIER_TASK_QUEUE,
    NOTIFIER_TASKS,
    NOTIFIER_TICK_QUEUE,
    NOTIFIER_TICKS,
    QUEUES,
    REMINDERS_TASK,
    RETIRED_QUEUES,
    ConsumerQueue,
    ExchangeDeclaration,
    QueueDeclaration,
)

# kombu's functions carry no annotations.


def _exchange(declaration: ExchangeDeclaration) -> Exchange:
    return Exchange(
        declaration.name,
        type=declaration.type,
        durable=True,
        auto_delete=False,
        arguments=declaration.arguments or None,
    )


EXCHANGES_BY_NAME: dict[str, Exchange] = {
    declaration.name: _exchange(declaration) for declaration in EXCHANGES
}


def _queue(declaration: QueueDeclaration) -> Queue:
    return Queue(
        declaration.name,
        bindings=[
            binding(EXCHANGES_BY_NAME[exchange], routing_key=routing_key)
            for exchange, routing_key in declaration.bindings
        ],
        durable=True,
        auto_delete=False,
        queue_arguments=declaration.arguments,
    )


SHARED_QUEUES: tuple[Queue, ...] = tuple(_queue(declaration) for declaration in QUEUES)
"""Every queue of the shared topology (declaring one declares its exchanges and bindings)."""


def consumer_queue(queue: ConsumerQueue) -> Queue:
    """The kombu entity of a consumer's queue, as declared above."""
    return next(declared for declared in SHARED_QUEUES if declared.name == queue.name)


TASK_QUEUE_ARGUMENTS = NOTIFIER_TASKS.queue_arguments
TASK_EXCHANGE = Exchange(NOTIFIER_TASK_EXCHANGE, type="topic", durable=True)


def _task_queue(queue: ConsumerQueue) -> Queue:
    """A Celery task queue on the task exchange, routing key = its name."""
    return Queue(
        queue.name,
        TASK_EXCHANGE,
        routing_key=queue.name,
        durable=True,
        queue_arguments=queue.queue_arguments,
    )


def _task_dead_letter_queue(queue: ConsumerQueue) -> Queue:
    return Queue(
        queue.dead_letter_queue,
        EXCHANGES_BY_NAME[DEAD_LETTER_EXCHANGE],
        routing_key=queue.name,
        durable=True,
        queue_arguments={"x-queue-type": "classic"},
    )


TASK_QUEUE = _task_queue(NOTIFIER_TASKS)
TICK_QUEUE = _task_queue(NOTIFIER_TICKS)
TASK_QUEUES: tuple[Queue, ...] = (
    TASK_QUEUE,
    _task_dead_letter_queue(NOTIFIER_TASKS),
    TICK_QUEUE,
    _task_dead_letter_queue(NOTIFIER_TICKS),
)
"""The notifier's task queues and their dead-letter queues."""

TICK_ROUTE = {"queue": NOTIFIER_TICK_QUEUE, "routing_key": NOTIFIER_TICK_QUEUE}
TASK_ROUTES = {DIGEST_TASK: TICK_ROUTE, REMINDERS_TASK: TICK_ROUTE}
"""The ticks go to their own queue; every other task to the default one."""


def declare_topology(channel: Any) -> None:
    """Declare every exchange, queue and binding, shared and the task queues, and delete
    the retired queues, as ``tracker_runtime.messaging`` does; idempotent."""
    for exchange in EXCHANGES_BY_NAME.values():  # in contract order: alternates first
        exchange.declare(channel=channel)
    for queue in (*SHARED_QUEUES, *TASK_QUEUES):
        queue.declare(channel=channel)
    for retired in RETIRED_QUEUES:
        channel.queue_delete(retired)


def task_queue_settings(broker_url: str) -> dict[str, Any]:
    """Celery settings for an app that sends to (or works) the notifier's task queues: the
    queues as declared above, the ticks routed to theirs, JSON only, and a confirm for
    every publish, so that "sent" means "stored by RabbitMQ"."""
    return {
        "broker_url": broker_url,
        "broker_connection_retry_on_startup": True,
        "broker_transport_options": {"confirm_publish": True},
        "task_queues": [TASK_QUEUE, TICK_QUEUE],
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
