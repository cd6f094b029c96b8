"""The handlers of the ``task.*`` events (subscribed in ``events.subscriptions``): they keep
the reminders projection. Like every handler they take the owner's lock first and refuse
events about a deleted account (``events.handlers._erased``), and store no mail."""

import logging

from tracker_contracts import Envelope, TaskCompleted, TaskCreated, TaskDeleted, TaskUpdated
from tracker_notifier.events.handlers import Handling, about, refused_as_erased
from tracker_notifier.reminders import repository

logger = logging.getLogger("tracker.notifier.reminders")


def on_task_created(handling: Handling, envelope: Envelope[TaskCreated]) -> list[int]:
    return _apply(handling, envelope)


def on_task_updated(handling: Handling, envelope: Envelope[TaskUpdated]) -> list[int]:
    """Any change: a reminder cleared, moved, a task done or reopened. The newest version
    wins; an older event arriving late changes nothing."""
    return _apply(handling, envelope)


def _apply(
    handling: Handling, envelope: Envelope[TaskCreated] | Envelope[TaskUpdated]
) -> list[int]:
    task = envelope.data
    if refused_as_erased(handling, envelope, task.user_id):
        return []
    changed = repository.apply_task(handling.session, task)
    logger.info(
        "task applied" if changed else "older task version ignored",
        extra={**about(envelope), "task_id": str(task.task_id), "version": task.version},
    )
    return []


def on_task_deleted(handling: Handling, envelope: Envelope[TaskDeleted]) -> list[int]:
    """The reminder goes, and no later event about the task brings it back."""
    data = envelope.data
    if refused_as_erased(handling, envelope, data.user_id):
        return []
    repository.delete_task(handling.session, data.task_id, data.user_id)
    logger.info("task deleted", extra={**about(envelope), "task_id": str(data.task_id)})
    return []


def on_task_completed(handling: Handling, envelope: Envelope[TaskCompleted]) -> list[int]:
    """The task was marked done: its reminder is off at once (``task.updated`` of the same
    change says it too; whichever comes first cancels the reminder)."""
    data = envelope.data
    if refused_as_erased(handling, envelope, data.user_id):
        return []
    repository.complete_task(handling.session, data.task_id, data.completed_at)
    return []
