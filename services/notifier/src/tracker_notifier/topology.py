"""The notifier's events queue as a kombu entity, among the shared topology that
``tracker_runtime.kombu_topology`` declares (the Celery task queue included)."""

from tracker_notifier.events.subscriptions import SUBSCRIPTIONS
from tracker_runtime.kombu_topology import consumer_queue

EVENTS_QUEUE = consumer_queue(SUBSCRIPTIONS.queue)
EVENTS_DEAD_LETTER_QUEUE = SUBSCRIPTIONS.queue.dead_letter_queue
