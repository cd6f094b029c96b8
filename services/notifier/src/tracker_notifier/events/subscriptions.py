"""What the notifier consumes: each event model of its queue, ``notifier.events``, and its
handler. To consume another event, add its model to the queue in
``tracker_contracts.messaging`` and its entry here."""

from tracker_contracts import (
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
from tracker_contracts.messaging import NOTIFIER_EVENTS
from tracker_contracts.subscriptions import Subscriptions, subscribe
from tracker_notifier.events.handlers import (
    Handling,
    on_user_deleted,
    on_user_password_reset_requested,
    on_user_registered,
    on_user_updated,
    on_user_verification_requested,
    on_user_verified,
)
from tracker_notifier.reminders.handlers import (
    on_task_completed,
    on_task_created,
    on_task_deleted,
    on_task_updated,
)

SUBSCRIPTIONS = Subscriptions[Handling, list[int]](
    NOTIFIER_EVENTS,
    (
        subscribe(UserRegistered, on_user_registered),
        subscribe(UserUpdated, on_user_updated),
        subscribe(UserVerified, on_user_verified),
        subscribe(UserDeleted, on_user_deleted),
        subscribe(UserVerificationRequested, on_user_verification_requested),
        subscribe(UserPasswordResetRequested, on_user_password_reset_requested),
        subscribe(TaskCreated, on_task_created),
        subscribe(TaskUpdated, on_task_updated),
        subscribe(TaskDeleted, on_task_deleted),
        subscribe(TaskCompleted, on_task_completed),
    ),
)
