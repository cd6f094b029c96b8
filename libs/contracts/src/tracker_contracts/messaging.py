"""Every name on the wire, in one place: the exchanges, the queues with the events each one
consumes (their routing keys follow from the event models listed), and the Celery task
names. Pure data. The durable part (:data:`EXCHANGES` and :data:`QUEUES`, with their
bindings) is declared once, with the administrator's credentials, by
``python -m tracker_runtime.provision`` (in Kubernetes by the Messaging Topology Operator),
before any service starts, so that an event published before its consumer ever ran still
finds the consumer's queue. The services only use it: they declare nothing of it, and their
RabbitMQ users may not (``tracker_contracts.permissions``). What a process declares itself
is only its own: the tasks service's per-process queues, and Celery's machinery in the
notifier's worker.

- ``tracker.events`` (topic): every event, routing key = event type (``EventType``, defined
  with the event models in ``tracker_contracts.events``).
- ``tracker.unrouted`` (fanout, the events exchange's alternate exchange) and its queue
  ``tracker.unrouted.bounded``: an event no queue is bound for is kept there, for a while,
  instead of being dropped or bounced. Nothing consumes it, so it is bounded in length and
  age, dropping the oldest first; the relay's ``/readyz`` details report its depth.
- ``tracker.dead-letter`` (direct): where a consumer's queue sends messages it rejects or
  that exceeded the delivery limit; routing key = the queue's name, one dead-letter queue
  per consumer queue.
- ``notifier.tasks`` (topic) and its two queues: the notifier's Celery tasks, sent by name,
  and apart from them the ticks (``notifier.ticks``), which never wait behind mails.
- ``tasks.live.<replica>``: one queue per process of the tasks service (exclusive, deleted
  with its connection), so that every replica hears of every task change and ended
  session, for the live streams it holds (:data:`TASKS_LIVE`).

The names and arguments here are pinned: RabbitMQ refuses to redeclare a queue with other
arguments (PRECONDITION_FAILED), and provisioning leaves an existing queue as it is.
"""

from dataclasses import dataclass, field
from typing import Any

from tracker_contracts.events import (
    EventData,
    EventType,
    SessionRevoked,
    TaskCompleted,
    TaskCreated,
    TaskDeleted,
    TaskUpdated,
    UserDeleted,
    UserPasswordResetRequested,
    UserRegistered,
    UserUpdated,
    UserVerificationRequested,
    UserVerified,
)

# -- exchanges ---------------------------------------------------------------------------

EVENTS_EXCHANGE = "tracker.events"
"""The one durable topic exchange every event is published to."""

DEAD_LETTER_EXCHANGE = "tracker.dead-letter"
"""Where consumers send messages they cannot process."""

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
RETIRED_QUEUES: tuple[str, ...] = ("tracker.unrouted", "tasks.sessions")
"""Queues that earlier versions declared and every declaration now deletes.

``tracker.unrouted`` was the unbounded queue of unrouted events. RabbitMQ refuses to
redeclare a queue with other arguments (PRECONDITION_FAILED, which closes the channel), so
the bound could not be added to it in place; and "delete it on PRECONDITION_FAILED, then
redeclare" would make every replica still on the old version fail its own declaration
during a rolling upgrade. A new name lets old and new declarations both succeed; deleting
the old queue only drops events nobody would ever consume (an old replica may declare it
again until it is upgraded; the next declaration by a new one deletes it again).

``tasks.sessions`` was the tasks service's queue when it consumed ``session.revoked`` only;
``tasks.events`` took its place (and its binding), a name for every event the service
consumes. Its
dead-letter queue is left alone: what it holds can still be replayed."""
DELIVERY_LIMIT = 5
"""Deliveries of one message before the broker dead-letters it (a poison message that
kills its consumer every time must not loop forever)."""


# -- queues ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsumerQueue:
    """A durable quorum queue with a delivery limit and its own dead-letter queue; bound to
    ``tracker.events`` for each event model in ``events`` (the routing keys follow from the
    models, never kept by hand). A consuming service maps the same models to its handlers
    (see ``tracker_contracts.subscriptions``)."""

    name: str
    events: tuple[type[EventData], ...] = ()
    arguments: dict[str, Any] = field(default_factory=dict)

    @property
    def routing_keys(self) -> tuple[str, ...]:
        return tuple(model.EVENT_TYPE.value for model in self.events)

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
    events=(
        UserRegistered,
        UserUpdated,
        UserVerified,
        UserDeleted,
        UserVerificationRequested,
        UserPasswordResetRequested,
        TaskCreated,
        TaskUpdated,
        TaskDeleted,
        TaskCompleted,
    ),
)
"""The notifier's events: the recipients (who may get which mail), the mails with a link
(welcome, confirm the address, reset the password), erasing a deleted account, and the
tasks, whose reminders it keeps (a projection of each task's reminder and state)."""

TASKS_EVENTS = ConsumerQueue(name="tasks.events", events=(SessionRevoked, UserDeleted))
"""The tasks service's events: revoked sessions, whose tokens it must refuse, and deleted
accounts, whose tasks it erases."""

CONSUMER_QUEUES: tuple[ConsumerQueue, ...] = (NOTIFIER_EVENTS, TASKS_EVENTS)
"""Every durable queue bound to ``tracker.events``."""


@dataclass(frozen=True)
class ReplicaQueue(ConsumerQueue):
    """A queue of one process, not of its service: every replica declares its own, named
    ``<name>.<replica>``, exclusive to its connection and deleted with it, so each replica
    receives its own copy of every event bound (what each process must *know*, rather than
    what the service must *do* once). Nothing is dead-lettered or redelivered: a replica
    that was away from the broker missed events, and its consumer catches up another way.
    The length bound drops the oldest events rather than letting a stuck replica pile up
    messages in the broker."""

    max_length: int = 10_000

    def queue_name(self, replica: str) -> str:
        return f"{self.name}.{replica}"

    @property
    def queue_arguments(self) -> dict[str, Any]:
        return {
            "x-queue-type": "classic",
            "x-max-length": self.max_length,
            "x-overflow": "drop-head",
            **self.arguments,
        }


TASKS_LIVE = ReplicaQueue(
    name="tasks.live",
    events=(TaskCreated, TaskUpdated, TaskDeleted, SessionRevoked, UserDeleted),
)
"""Each tasks process's own queue for its live streams: a person's task changes wake their
streams on that process, and an ended session or a deleted account closes theirs."""

REPLICA_QUEUES: tuple[ReplicaQueue, ...] = (TASKS_LIVE,)
"""Every per-process queue bound to ``tracker.events`` (declared by their consumers, never
by :data:`QUEUES`: they live only as long as their process's connection)."""


# -- Celery tasks (the notifier's, sent by name by the scheduler and the notifier itself) --

NOTIFIER_TASK_QUEUE = "notifier.tasks"
NOTIFIER_TASK_EXCHANGE = NOTIFIER_TASK_QUEUE
"""A topic exchange: Celery's native delayed delivery, which carries retries with a
countdown on quorum queues, cannot route through a direct exchange."""

NOTIFIER_TASKS = ConsumerQueue(name=NOTIFIER_TASK_QUEUE)
"""The notifier's Celery task queue: a quorum queue with a delivery limit and a dead-letter
queue, like the consumer queues, bound to no event but its own name on
:data:`NOTIFIER_TASK_EXCHANGE`; part of the shared topology, since the scheduler sends to it
(a tick sent before any worker ran still finds its queue)."""

NOTIFIER_TICK_QUEUE = "notifier.ticks"
NOTIFIER_TICKS = ConsumerQueue(name=NOTIFIER_TICK_QUEUE)
"""The ticks (:data:`DIGEST_TASK`, :data:`REMINDERS_TASK`), on the same exchange and
declared like :data:`NOTIFIER_TASKS`: on a queue of their own, a tick reaches a worker at
once instead of after every mail queued before it (a digest night's batches, the mails of
a minute's reminders), so that reminders fire on time while the senders are busy."""

NOTIFIER_WORKER_QUEUES = (NOTIFIER_TICK_QUEUE, NOTIFIER_TASK_QUEUE)
"""The queues a notifier worker consumes (its ``-Q``)."""

DIGEST_TASK = "tracker_notifier.digest"
"""The nightly digest tick, sent by the scheduler. Keyword arguments: ``at``, the tick's
instant (ISO 8601 with an offset); ``request``, an optional request id for the logs."""
HANDLE_EVENT_TASK = "tracker_notifier.handle_event"
"""Applies one received event (sent by the notifier's consumer step)."""
SEND_DELIVERY_TASK = "tracker_notifier.send_delivery"
SEND_DELIVERIES_TASK = "tracker_notifier.send_deliveries"
"""Sends a batch of deliveries (a digest batch) over one SMTP connection."""
REMINDERS_TASK = "tracker_notifier.reminders"
"""The reminders tick, sent by the scheduler every few seconds and by the notifier itself
at the instant a reminder falls due. Keyword arguments: ``at``, the tick's instant (ISO 8601
with an offset); ``horizon``, seconds ahead for which the tick arranges a tick of its own at
each instant a reminder falls due (0: none)."""


# -- the whole topology, as the transport-specific builders declare it --------------------


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
    ExchangeDeclaration(NOTIFIER_TASK_EXCHANGE, "topic"),
)
"""Every durable exchange, in an order where each one's alternate exchange comes first."""


def _with_dead_letter_queue(
    queue: ConsumerQueue, bindings: tuple[tuple[str, str], ...]
) -> tuple[QueueDeclaration, QueueDeclaration]:
    """``queue`` with ``bindings``, and its dead-letter queue, bound to
    :data:`DEAD_LETTER_EXCHANGE` with the queue's name (its ``x-dead-letter-routing-key``)."""
    return (
        QueueDeclaration(queue.name, queue.queue_arguments, bindings),
        QueueDeclaration(
            queue.dead_letter_queue,
            {"x-queue-type": "classic"},
            ((DEAD_LETTER_EXCHANGE, queue.name),),
        ),
    )


QUEUES: tuple[QueueDeclaration, ...] = (
    QueueDeclaration(UNROUTED_QUEUE, UNROUTED_QUEUE_ARGUMENTS, ((UNROUTED_EXCHANGE, ""),)),
    *(
        declaration
        for queue in CONSUMER_QUEUES
        for declaration in _with_dead_letter_queue(
            queue, tuple((EVENTS_EXCHANGE, key) for key in queue.routing_keys)
        )
    ),
    *(
        declaration
        for queue in (NOTIFIER_TASKS, NOTIFIER_TICKS)
        for declaration in _with_dead_letter_queue(queue, ((NOTIFIER_TASK_EXCHANGE, queue.name),))
    ),
)
"""Every durable queue with its bindings: the events' consumer queues, the unrouted queue,
the notifier's Celery task queues (Celery's routing key is the queue's name), and the
dead-letter queue of each queue with a delivery limit."""

__all__ = [
    "CONSUMER_QUEUES",
    "DEAD_LETTER_EXCHANGE",
    "DELIVERY_LIMIT",
    "DIGEST_TASK",
    "EVENTS_EXCHANGE",
    "EXCHANGES",
    "HANDLE_EVENT_TASK",
    "NOTIFIER_EVENTS",
    "NOTIFIER_TASKS",
    "NOTIFIER_TASK_EXCHANGE",
    "NOTIFIER_TASK_QUEUE",
    "NOTIFIER_TICKS",
    "NOTIFIER_TICK_QUEUE",
    "NOTIFIER_WORKER_QUEUES",
    "QUEUES",
    "REMINDERS_TASK",
    "REPLICA_QUEUES",
    "RETIRED_QUEUES",
    "SEND_DELIVERIES_TASK",
    "SEND_DELIVERY_TASK",
    "TASKS_EVENTS",
    "TASKS_LIVE",
    "UNROUTED_EXCHANGE",
    "UNROUTED_MAX_AGE_MS",
    "UNROUTED_MAX_LENGTH",
    "UNROUTED_QUEUE",
    "UNROUTED_QUEUE_ARGUMENTS",
    "ConsumerQueue",
    "EventType",
    "ExchangeDeclaration",
    "QueueDeclaration",
    "ReplicaQueue",
]
