"""The RabbitMQ topology as kombu entities.

The shared part is built only from ``tracker_contracts.topology``, with the same types,
durability and arguments the other services declare through aio-pika: RabbitMQ refuses a
declaration that differs (PRECONDITION_FAILED), so nothing here may add to it.

The notifier's own Celery task queue comes on top: a quorum queue like the consumer queues
(its arguments come from the same contract helper), so a task that kills its worker every
time is dead-lettered after ``DELIVERY_LIMIT`` deliveries instead of looping, and a task
that fails for good is dead-lettered too (``task_acks_on_failure_or_timeout=False``).
Its exchange is a topic exchange because Celery's native delayed delivery, which carries
retries with a countdown on quorum queues, cannot route through a direct exchange.
"""

from kombu.entity import Exchange, Queue, binding

from tracker_contracts.tasks import NOTIFIER_TASK_QUEUE
from tracker_contracts.topology import (
    DEAD_LETTER_EXCHANGE,
    EXCHANGES,
    NOTIFIER_EVENTS,
    QUEUES,
    ConsumerQueue,
    ExchangeDeclaration,
    QueueDeclaration,
)

# kombu's functions carry no annotations, hence the ``no-untyped-call`` ignores below.


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

EVENTS_QUEUE: Queue = next(queue for queue in SHARED_QUEUES if queue.name == NOTIFIER_EVENTS.name)
EVENTS_DEAD_LETTER_QUEUE = NOTIFIER_EVENTS.dead_letter_queue

_TASKS = ConsumerQueue(name=NOTIFIER_TASK_QUEUE, routing_keys=())
TASK_QUEUE_ARGUMENTS = _TASKS.queue_arguments
TASK_EXCHANGE = Exchange(NOTIFIER_TASK_QUEUE, type="topic", durable=True)
TASK_QUEUE = Queue(
    NOTIFIER_TASK_QUEUE,
    TASK_EXCHANGE,
    routing_key=NOTIFIER_TASK_QUEUE,
    durable=True,
    queue_arguments=TASK_QUEUE_ARGUMENTS,
)
TASK_DEAD_LETTER_QUEUE = Queue(
    _TASKS.dead_letter_queue,
    EXCHANGES_BY_NAME[DEAD_LETTER_EXCHANGE],
    routing_key=NOTIFIER_TASK_QUEUE,
    durable=True,
    queue_arguments={"x-queue-type": "classic"},
)

NOTIFIER_QUEUES: tuple[Queue, ...] = (TASK_QUEUE, TASK_DEAD_LETTER_QUEUE)
"""Queues only the notifier declares (Celery declares ``TASK_QUEUE`` itself, too)."""


def declare_topology(channel: object) -> None:
    """Declare every exchange, queue and binding, shared and own; idempotent."""
    for exchange in EXCHANGES_BY_NAME.values():  # in contract order: alternates first
        exchange.declare(channel=channel)
    for queue in (*SHARED_QUEUES, *NOTIFIER_QUEUES):
        queue.declare(channel=channel)
