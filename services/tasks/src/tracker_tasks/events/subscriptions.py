"""What the tasks service consumes from its queue ``tasks.events``: each event model and
its handler. To consume another event there, add its model to the queue in
``tracker_contracts.messaging`` and its entry here."""

from tracker_contracts import SessionRevoked, UserDeleted
from tracker_contracts.messaging import TASKS_EVENTS
from tracker_contracts.subscriptions import subscribe
from tracker_runtime.consumer import AsyncSubscriptions
from tracker_tasks.revocations.handlers import on_session_revoked
from tracker_tasks.tasks.handlers import on_user_deleted

SUBSCRIPTIONS = AsyncSubscriptions(
    TASKS_EVENTS,
    (
        subscribe(SessionRevoked, on_session_revoked),
        subscribe(UserDeleted, on_user_deleted),
    ),
)
