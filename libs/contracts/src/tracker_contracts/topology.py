"""The RabbitMQ topology, as data: every service declares all of it at start, idempotently,
so that an event published before its consumer ever ran still finds the consumer's queue.

- ``tracker.events`` (topic): every event, routing key = event type.
- ``tracker.unrouted`` (fanout, the events exchange's alternate exchange) and its queue
  ``tracker.unrouted.bounded``: an event no queue is bound for is kept there, for a while,
  instead of being dropped or bounced. Nothing consumes it, so it is bounded in length and
  age, dropping the oldest first; the relay's ``/readyz`` details report its depth.
- ``tracker.dead-letter`` (direct): where a consumer's queue sends messages it rejects or
  that exceeded the delivery limit; routing key = the queue's name, one dead-letter queue
  per consumer queue.
"""

from dataclasses import dataclass, field
from typing import Any

from tracker_contracts.routing import DEAD_LETTER_EXCHANGE, EVENTS_EXCHANGE, EventType

UNROUTED_EXCHANGE = "tracker.unrouted"
UNROUTED_QUEUE = "tracker.unrouted.bounded"
UNROUTED_MAX_LENGTH = 10_000
UNROUTED_MAX_AGE_MS = 7 * 24 * 3600 * 1000
UNROUTED_QUEUE_ARGUMENTS: dict[str, Any] = {
    "x-queue-type": "classic",
    "x-max-length": UNROUTED_MAX_LENGTH,
    "x-message-ttl": UNROUTED_MAX_AGE_MS,
    "x-overflow": "drop-head",
}
RETIRED_QUEUES: tuple[str, ...] = ("tracker.unrouted",)
"""Queues that earlier versions declared and every declaration now deletes.

``tracker.unrouted`` was the unbounded queue of unrouted events. RabbitMQ refuses to
redeclare a queue with other arguments (PRECONDITION_FAILED, which closes the channel), so
the bound could not be added to it in place; and "delete it on PRECONDITION_FAILED, then
redeclare" would make every replica still on the old version fail its own declaration
during a rolling upgrade. A new name lets old and new declarations both succeed; deleting
the old queue only drops events nobody would ever consume (an old replica may declare it
again until it is upgraded; the next declaration by a new one deletes it again)."""
DELIVERY_LIMIT = 5
"""Deliveries of one message before the broker dead-letters it (a poison message that
kills its consumer every time must not loop forever)."""


@dataclass(frozen=True)
class ConsumerQueue:
    """A consuming service's durable queue on ``tracker.events``."""

    name: str
    routing_keys: tuple[str, ...]
    arguments: dict[str, Any] = field(default_factory=dict)

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.name}.dead-letter"

    @property
    def queue_arguments(self) -> dict[str, Any]:
        return {
            "x-queue-type": "quorum",
            "x-delivery-limit": DELIVERY_LIMIT,
            "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
            "x-dead-letter-routing-key": self.name,
            **self.arguments,
        }


NOTIFIER_EVENTS = ConsumerQueue(
    name="notifier.events",
    routing_keys=(EventType.USER_REGISTERED.value, EventType.USER_UPDATED.value),
)

TASKS_SESSION_EVENTS = ConsumerQueue(
    name="tasks.sessions",
    routing_keys=(EventType.SESSION_REVOKED.value,),
)

CONSUMER_QUEUES: tuple[ConsumerQueue, ...] = (NOTIFIER_EVENTS, TASKS_SESSION_EVENTS)


@dataclass(frozen=True)
class ExchangeDeclaration:
    name: str
    type: str
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class QueueDeclaration:
    name: str
    arguments: dict[str, Any]
    bindings: tuple[tuple[str, str], ...]
    """(exchange, routing key) pairs."""


EXCHANGES: tuple[ExchangeDeclaration, ...] = (
    ExchangeDeclaration(UNROUTED_EXCHANGE, "fanout"),
    ExchangeDeclaration(DEAD_LETTER_EXCHANGE, "direct"),
    ExchangeDeclaration(EVENTS_EXCHANGE, "topic", {"alternate-exchange": UNROUTED_EXCHANGE}),
)
"""Every exchange, durable, in an order where each one's alternate exchange comes first."""

QUEUES: tuple[QueueDeclaration, ...] = (
    QueueDeclaration(UNROUTED_QUEUE, UNROUTED_QUEUE_ARGUMENTS, ((UNROUTED_EXCHANGE, ""),)),
    *(
        declaration
        for queue in CONSUMER_QUEUES
        for declaration in (
            QueueDeclaration(
                queue.name,
                queue.queue_arguments,
                tuple((EVENTS_EXCHANGE, key) for key in queue.routing_keys),
            ),
            QueueDeclaration(
                queue.dead_letter_queue,
                {"x-queue-type": "classic"},
                ((DEAD_LETTER_EXCHANGE, queue.name),),
            ),
        )
    ),
)
"""Every durable queue with its bindings."""

__all__ = [
    "CONSUMER_QUEUES",
    "DEAD_LETTER_EXCHANGE",
    "DELIVERY_LIMIT",
    "EVENTS_EXCHANGE",
    "EXCHANGES",
    "NOTIFIER_EVENTS",
    "QUEUES",
    "RETIRED_QUEUES",
    "TASKS_SESSION_EVENTS",
    "UNROUTED_EXCHANGE",
    "UNROUTED_MAX_AGE_MS",
    "UNROUTED_MAX_LENGTH",
    "UNROUTED_QUEUE",
    "UNROUTED_QUEUE_ARGUMENTS",
    "ConsumerQueue",
    "ExchangeDeclaration",
    "QueueDeclaration",
]
