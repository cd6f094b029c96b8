"""The notifier's own queues among the shared topology.

The whole topology, the Celery task queue included, is declared from
``tracker_runtime.kombu_topology`` (the scheduler declares the task queue from there too);
this module names the queue the notifier consumes events from.
"""

from tracker_contracts.messaging import NOTIFIER_EVENTS
from tracker_runtime.kombu_topology import SHARED_QUEUES

EVENTS_QUEUE = next(queue for queue in SHARED_QUEUES if queue.name == NOTIFIER_EVENTS.name)
EVENTS_DEAD_LETTER_QUEUE = NOTIFIER_EVENTS.dead_letter_queue
