"""What the tasks service consumes: each event model and its handler, per queue. To consume
another event, add its model to the queue in ``tracker_contracts.messaging`` and its entry
here.

- ``tasks.events``, shared by the replicas (each event handled once, in a transaction):
  revoked sessions and deleted accounts.
- ``tasks.live.<replica>``, one per process (each replica hears of every event): what its
  live streams must know, and the revoked sessions it answers from memory.
"""

from collections.abc import Awaitable

from tracker_contracts import (
    SessionRevoked,
    TaskCreated,
    TaskDeleted,
    TaskUpdated,
    UserDeleted,
)
from tracker_contracts.messaging import TASKS_EVENTS, TASKS_LIVE
from tracker_contracts.subscriptions import Subscriptions, subscribe
from tracker_runtime.consumer import AsyncSubscriptions
from tracker_tasks.context import TasksContext
from tracker_tasks.live import handlers as live
from tracker_tasks.revocations.handlers import on_session_revoked
from tracker_tasks.tasks.handlers import on_user_deleted

SUBSCRIPTIONS = AsyncSubscriptions(
    TASKS_EVENTS,
    (
        subscribe(SessionRevoked, on_session_revoked),
        subscribe(UserDeleted, on_user_deleted),
    ),
)

LiveSubscriptions = Subscriptions[TasksContext, Awaitable[None]]
"""Subscriptions whose handlers take the service's context (its streams, the sessions it
knows ended) and are awaited."""

LIVE_SUBSCRIPTIONS = LiveSubscriptions(
    TASKS_LIVE,
    (
        subscribe(TaskCreated, live.on_task_created),
        subscribe(TaskUpdated, live.on_task_updated),
        subscribe(TaskDeleted, live.on_task_deleted),
        subscribe(SessionRevoked, live.on_session_revoked),
        subscribe(UserDeleted, live.on_user_deleted),
    ),
)
