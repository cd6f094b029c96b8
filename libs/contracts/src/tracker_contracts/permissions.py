"""What each process may do on the broker, derived from the names in
``tracker_contracts.messaging``: one RabbitMQ user per service, with permissions on its
virtual host (configure, write and read, each a regular expression over exchange and queue
names) and topic permissions on the topic exchanges (regular expressions over routing
keys: the event types the service owns, to publish them, and those it must hear, to bind
to them). ``tracker_runtime.provision`` applies them.

The shared durable topology (``messaging.EXCHANGES`` and ``messaging.QUEUES``: the
exchanges, every durable queue with its arguments and bindings, the dead-letter and
unrouted parts) is declared by ``tracker_runtime.provision`` with the administrator's
credentials (in Kubernetes by the Messaging Topology Operator), never by a service. A
service declares only what is its own and otherwise uses what exists, so its user may:

- *read* only the queues it consumes (``basic.consume``, ``basic.get`` and ``queue.purge``
  need read on the queue): auth's user cannot take ``notifier.events`` or ``tasks.events``,
  nor the notifier's user ``tasks.events``. Read on an exchange is what binding a queue to
  it takes (``queue.bind`` needs write on the queue and read on the exchange), so only the
  services that bind a queue of their own have it, on that exchange only.
- *configure* only what it declares itself (``queue.declare`` and ``exchange.declare``,
  unless passive, and deleting either, need configure): the tasks service its per-process
  queues ``tasks.live.<replica>``, the notifier Celery's delayed delivery and remote
  control. Auth and the scheduler configure nothing. Were a service to declare a shared
  queue itself, it would need much more: a queue with a dead-letter exchange needs read on
  the queue and write on that exchange, an exchange with an alternate exchange read on
  itself and write on the alternate.
- *write* only to the exchanges it publishes to (``basic.publish``), and on the topic
  exchanges only the routing keys it owns (:attr:`BrokerPermissions.publishes`), plus the
  queues and exchanges its own bindings end in. No service may write to the default
  exchange, so none can put a message straight into another's queue.
- bind a queue of its own to a topic exchange only with the routing keys it must hear
  (:attr:`BrokerPermissions.binds`, RabbitMQ's topic *read* permission): the tasks
  service's live queues hear the task events, revoked sessions and deleted accounts, never
  ``user.registered`` with its confirmation link; auth and the scheduler bind nothing.

A passive declare (``passive=true``: "does it exist, and how many messages does it hold")
needs no permission at all. That is how the services attach to the shared queues and
exchanges, and how the outbox relay reads the depth of ``tracker.unrouted.bounded`` for
``/readyz``: it learns the count without being able to take a single message, so no service
reads the unrouted queue. The broker's own routing (the alternate exchange, dead-lettering,
Celery's delayed-delivery chain) is not checked against the publisher's user either.
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
    EVENTS_EXCHANGE,
    NOTIFIER_EVENTS,
    NOTIFIER_TASK_EXCHANGE,
    NOTIFIER_TASKS,
    NOTIFIER_TICKS,
    TASKS_EVENTS,
    TASKS_LIVE,
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


CELERY_DELAYED = (r"celery_delayed_\d+", re.escape("celery_delayed_delivery"))
"""Celery's native delayed delivery (kombu), which the worker declares at start: an
exchange and a queue per level, and the delivery exchange the task exchange is bound to;
used for retries with a countdown and the reminders' wake-ups."""
CELERY_DELAYED_BINDINGS = tuple(f"#.{queue.name}" for queue in (NOTIFIER_TASKS, NOTIFIER_TICKS))
"""The routing keys Celery's delayed delivery binds each task queue to the task exchange
with (kombu's ``bind_queue_to_native_delayed_delivery_exchange``)."""
CELERY_WORKER = (r"[^.]*@.*\.celery\.pidbox", r"(reply\.)?celery\.pidbox", r"celeryev(\..*)?")
"""The worker's remote control (``celery inspect``, ``celery control``) and events."""
TASKS_LIVE_QUEUES = rf"{re.escape(TASKS_LIVE.name)}\..+"
"""The tasks service's per-process queues, ``tasks.live.<replica>``."""


@dataclass(frozen=True)
class BrokerPermissions:
    """One service's RabbitMQ user: patterns of names for each kind of access, and, for
    each topic exchange it publishes to, the routing keys it may publish."""

    service: str
    configure: tuple[str, ...]
    write: tuple[str, ...]
    read: tuple[str, ...]
    publishes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    binds: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """For each topic exchange, the routing keys it may bind a queue of its own to it with
    (RabbitMQ checks the topic *read* permission on ``queue.bind``): what it may hear."""

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

    def topic_read_pattern(self, exchange: str) -> str:
        """The routing keys this service may bind to ``exchange`` (a topic exchange)."""
        return pattern(names(*self.binds.get(exchange, ())))


AUTH = BrokerPermissions(
    service="auth",
    configure=(),
    write=names(EVENTS_EXCHANGE),
    read=(),
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
"""The outbox relay of auth publishes user and session events; auth consumes nothing."""

TASKS = BrokerPermissions(
    service="tasks",
    configure=(TASKS_LIVE_QUEUES,),
    write=(*names(EVENTS_EXCHANGE), TASKS_LIVE_QUEUES),
    read=(*names(EVENTS_EXCHANGE, TASKS_EVENTS.name), TASKS_LIVE_QUEUES),
    publishes={EVENTS_EXCHANGE: event_types(TaskCreated, TaskUpdated, TaskDeleted, TaskCompleted)},
    binds={EVENTS_EXCHANGE: TASKS_LIVE.routing_keys},
)
"""The outbox relay of tasks (task events), its consumer of ``tasks.events``, and each
process's own live queue ``tasks.live.<replica>``, which it declares, binds to
``tracker.events`` and consumes."""

NOTIFIER = BrokerPermissions(
    service="notifier",
    configure=(*CELERY_DELAYED, *CELERY_WORKER),
    write=(*names(NOTIFIER_TASK_EXCHANGE, NOTIFIER_TICKS.name), *CELERY_DELAYED, *CELERY_WORKER),
    read=(
        *names(NOTIFIER_EVENTS.name, NOTIFIER_TASK_EXCHANGE, NOTIFIER_TICKS.name),
        *CELERY_DELAYED,
        *CELERY_WORKER,
    ),
    publishes={NOTIFIER_TASK_EXCHANGE: (NOTIFIER_TASKS.name, NOTIFIER_TICKS.name)},
    binds={NOTIFIER_TASK_EXCHANGE: CELERY_DELAYED_BINDINGS},
)
"""The Celery worker: its consumer of ``notifier.events`` (no events published), its task
queues ``notifier.tasks`` and ``notifier.ticks``, which it consumes and sends to (a batch's
mails, a reminder's wake-up tick), Celery's delayed delivery for retries (which binds the
task exchange and both task queues to it: write on them, read on the task exchange), and its
remote control. The task exchange and the task queue share the name ``notifier.tasks``."""

SCHEDULER = BrokerPermissions(
    service="scheduler",
    configure=(),
    write=names(NOTIFIER_TASK_EXCHANGE),
    read=(),
    publishes={NOTIFIER_TASK_EXCHANGE: (NOTIFIER_TICKS.name,)},
)
"""Celery beat: sends the ticks, by name, to the notifier's tick queue, and nothing else."""

BROKER_PERMISSIONS: dict[str, BrokerPermissions] = {
    permissions.service: permissions for permissions in (AUTH, TASKS, NOTIFIER, SCHEDULER)
}
TOPIC_EXCHANGES = (EVENTS_EXCHANGE, NOTIFIER_TASK_EXCHANGE)
"""The topic exchanges whose routing keys are limited per user."""
