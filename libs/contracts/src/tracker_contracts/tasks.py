"""Celery task names and queues shared between services that must not import each other
(the scheduler sends the digest task to the notifier by name)."""

NOTIFIER_TASK_QUEUE = "notifier.tasks"
