"""Celery task names and queues shared between services that must not import each other
(the scheduler sends the digest task to the notifier by name)."""

from tracker_contracts.topology import ConsumerQueue

NOTIFIER_TASK_QUEUE = "notifier.tasks"
NOTIFIER_TASK_EXCHANGE = NOTIFIER_TASK_QUEUE
"""A topic exchange: Celery's native delayed delivery, which carries retries with a
countdown on quorum queues, cannot route through a direct exchange."""

NOTIFIER_TASKS = ConsumerQueue(name=NOTIFIER_TASK_QUEUE, routing_keys=())
"""The notifier's Celery task queue: a quorum queue with a delivery limit and a dead-letter
queue, like the consumer queues. Whoever sends to it declares it with exactly these
arguments (RabbitMQ refuses a declaration that differs)."""

DIGEST_TASK = "tracker_notifier.digest"
"""The nightly digest tick. Keyword arguments: ``at``, the tick's instant (ISO 8601 with an
offset); ``request``, an optional request id for the logs."""
