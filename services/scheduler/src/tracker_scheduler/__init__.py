"""task-tracker scheduler: Celery beat sending the digest tick to the notifier by name."""
