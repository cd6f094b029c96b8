"""What each process may do on the broker, derived from the names in
``tracker_contracts.messaging``: one RabbitMQ user per service, with permissions on its
virtual host (configure, write and read, each a regular expression over exchange and queue
names) and topic permissions on the topic exchanges it publishes to (a regular expression
over routing keys, here the event types the service owns). ``tracker_runtime.provision``
applies them.

What RabbitMQ checks, and why each service gets what it gets:

- Declaring or deleting an exchange or a queue needs *configure* on it. Every service that
  touches the events declares the whole shared topology (:data:`SHARED_NAMES`), so that an
  event published before its consumer ever ran still finds the consumer's queue; declaring
  a queue with a dead-letter exchange also needs *read* on the queue and *write* on the
  dead-letter exchange, and an exchange with an alternate exchange *write* on that one.
  Hence every such service may configure and read the shared topology.
- Binding a queue needs *write* on the queue and *read* on the exchange. Publishing needs
  *write* on the exchange: only the exchanges a service publishes to are writable, and on
  the topic exchanges only the routing keys it owns (:attr:`BrokerPermissions.publishes`).
  No service may write to the default exchange, so none can put a message straight into
  another's queue.
- Consuming needs *read* on the queue: the per-process and Celery queues are readable only
  by the service they belong to.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from tracker_contracts.events import (
    EventData,
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
from tracker_contracts.messaging import (
    DEAD_LETTER_EXCHANGE,
    EVENTS_EXCHANGE,
    EXCHANGES,
    NOTIFIER_TASK_EXCHANGE,
    NOTIFIER_TASKS,
    NOTIFIER_TICKS,
    QUEUES,
    RETIRED_QUEUES,
    TASKS_LIVE,
    UNROUTED_EXCHANGE,
)

NOTHING = "^$"
"""A permission that matches no name (RabbitMQ's way to grant nothing)."""


def names(*exact: str) -> tuple[str, ...]:
    """Patterns that match exactly these names."""
    return tuple(re.escape(name) for name in exact)


def pattern(parts: Iterable[str]) -> str:
    """One anchored regular expression matching any of ``parts`` (patterns), or nothing."""
    alternatives = sorted(set(parts))
    return f"^({'|'.join(alternatives)})$" if alternatives else NOTHING


def event_types(*models: type[EventData]) -> tuple[str, ...]:
    """The routing keys of these events (their types)."""
    return tuple(model.EVENT_TYPE.value for model in models)


SHARED_EXCHANGES = names(*(exchange.name for exchange in EXCHANGES))
SHARED_QUEUES = names(*(queue.name for queue in QUEUES), *RETIRED_QUEUES)
SHARED_NAMES = (*SHARED_EXCHANGES, *SHARED_QUEUES)
"""The events' durable topology, which every service touching the events declares."""
DECLARE_SHARED = names(UNROUTED_EXCHANGE, DEAD_LETTER_EXCHANGE)
"""Written by whoever declares the shared topology (the alternate and the dead-letter
exchange of the declarations), never published to by the services."""

CELERY_DELAYED = (r"celery_delayed_\d+", re.escape("celery_delayed_delivery"))
"""Celery's native delayed delivery (kombu): an exchange and a queue per level, and the
delivery exchange the task exchange is bound to; used for retries with a countdown."""
NOTIFIER_TASK_QUEUES = names(
    NOTIFIER_TASKS.name,
    NOTIFIER_TASKS.dead_letter_queue,
    NOTIFIER_TICKS.name,
    NOTIFIER_TICKS.dead_letter_queue,
)
CELERY_WORKER = (r"[^.]*@.*\.celery\.pidbox", r"(reply\.)?celery\.pidbox", r"celeryev(\..*)?")
"""The worker's remote control (``celery inspect``, ``celery control``) and events."""


@dataclass(frozen=True)
class BrokerPermissions:
    """One service's RabbitMQ user: patterns of names for each kind of access, and, for
    each topic exchange it publishes to, the routing keys it may publish."""

    service: str
    configure: tuple[str, ...]
    write: tuple[str, ...]
    read: tuple[str, ...]
    publishes: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def configure_pattern(self) -> str:
        return pattern(self.configure)

    @property
    def write_pattern(self) -> str:
        return pattern(self.write)

    @property
    def read_pattern(self) -> str:
        return pattern(self.read)

    def topic_write_pattern(self, exchange: str) -> str:
        """The routing keys this service may publish to ``exchange`` (a topic exchange)."""
        return pattern(names(*self.publishes.get(exchange, ())))


AUTH = BrokerPermissions(
    service="auth",
    configure=SHARED_NAMES,
    write=(*SHARED_QUEUES, *DECLARE_SHARED, *names(EVENTS_EXCHANGE)),
    read=SHARED_NAMES,
    publishes={
        EVENTS_EXCHANGE: event_types(
            UserRegistered,
            UserUpdated,
            UserVerified,
            UserDeleted,
            UserVerificationRequested,
            UserPasswordResetRequested,
            SessionRevoked,
        )
    },
)
"""The outbox relay of auth: user and session events."""

TASKS = BrokerPermissions(
    service="tasks",
    configure=(*SHARED_NAMES, rf"{re.escape(TASKS_LIVE.name)}\..+"),
    write=(
        *SHARED_QUEUES,
        *DECLARE_SHARED,
        *names(EVENTS_EXCHANGE),
        rf"{re.escape(TASKS_LIVE.name)}\..+",
    ),
    read=(*SHARED_NAMES, rf"{re.escape(TASKS_LIVE.name)}\..+"),
    publishes={EVENTS_EXCHANGE: event_types(TaskCreated, TaskUpdated, TaskDeleted, TaskCompleted)},
)
"""The outbox relay of tasks (task events), its consumer of ``tasks.events`` and each
process's own live queue ``tasks.live.<replica>``."""

NOTIFIER = BrokerPermissions(
    service="notifier",
    configure=(
        *SHARED_NAMES,
        *names(NOTIFIER_TASK_EXCHANGE),
        *NOTIFIER_TASK_QUEUES,
        *CELERY_DELAYED,
        *CELERY_WORKER,
    ),
    write=(
        *SHARED_QUEUES,
        *DECLARE_SHARED,
        *names(NOTIFIER_TASK_EXCHANGE),
        *NOTIFIER_TASK_QUEUES,
        *CELERY_DELAYED,
        *CELERY_WORKER,
    ),
    read=(
        *SHARED_NAMES,
        *names(NOTIFIER_TASK_EXCHANGE),
        *NOTIFIER_TASK_QUEUES,
        *CELERY_DELAYED,
        *CELERY_WORKER,
    ),
    publishes={NOTIFIER_TASK_EXCHANGE: (NOTIFIER_TASKS.name, NOTIFIER_TICKS.name)},
)
"""The Celery worker: its consumer of ``notifier.events`` (no events published), its task
queues, which it also sends to (a batch's mails, a reminder's wake-up tick), Celery's
delayed delivery for retries, and its remote control."""

SCHEDULER = BrokerPermissions(
    service="scheduler",
    configure=(*names(NOTIFIER_TASK_EXCHANGE, DEAD_LETTER_EXCHANGE), *NOTIFIER_TASK_QUEUES),
    write=(*names(NOTIFIER_TASK_EXCHANGE, DEAD_LETTER_EXCHANGE), *NOTIFIER_TASK_QUEUES),
    read=(*names(NOTIFIER_TASK_EXCHANGE, DEAD_LETTER_EXCHANGE), *NOTIFIER_TASK_QUEUES),
    publishes={NOTIFIER_TASK_EXCHANGE: (NOTIFIER_TICKS.name,)},
)
"""Celery beat: sends the ticks, by name, to the notifier's tick queue, and nothing else."""

BROKER_PERMISSIONS: dict[str, BrokerPermissions] = {
    permissions.service: permissions for permissions in (AUTH, TASKS, NOTIFIER, SCHEDULER)
}
TOPIC_EXCHANGES = (EVENTS_EXCHANGE, NOTIFIER_TASK_EXCHANGE)
"""The topic exchanges whose routing keys are limited per user."""
