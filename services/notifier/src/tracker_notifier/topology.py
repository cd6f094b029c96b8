"""The queues the notifier consumes, as kombu entities.

The whole topology, the Celery task queue included, comes from
``tracker_runtime.kombu_topology`` (the scheduler declares the task queue from there too);
this module names the notifier's own part of it.
"""

from tracker_contracts.topology import NOTIFIER_EVENTS
from tracker_runtime.kombu_topology import (
    SHARED_QUEUES,
    TASK_DEAD_LETTER_QUEUE,
    TASK_QUEUE,
    TASK_QUEUE_ARGUMENTS,
    declare_topology,
)

EVENTS_QUEUE = next(queue for queue in SHARED_QUEUES if queue.name == NOTIFIER_EVENTS.name)
EVENTS_DEAD_LETTER_QUEUE = NOTIFIER_EVENTS.dead_letter_queue

__all__ = [
    "EVENTS_DEAD_LETTER_QUEUE",
    "EVENTS_QUEUE",
    "TASK_DEAD_LETTER_QUEUE",
    "TASK_QUEUE",
    "TASK_QUEUE_ARGUMENTS",
    "declare_topology",
]
