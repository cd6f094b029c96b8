"""What each event does to this process's memory: its streams, and the sessions it knows
ended (subscribed in ``tracker_tasks.events.subscriptions``). Each only flags or notes:
never a wait."""

from tracker_contracts import (
    Envelope,
    SessionRevoked,
    TaskCreated,
    TaskDeleted,
    TaskUpdated,
    UserDeleted,
)
from tracker_tasks.context import TasksContext


async def on_task_created(ctx: TasksContext, envelope: Envelope[TaskCreated]) -> None:
    """A person's tasks changed: their streams read their feed (each event the same)."""
    ctx.streams.changed(envelope.data.user_id)


async def on_task_updated(ctx: TasksContext, envelope: Envelope[TaskUpdated]) -> None:
    ctx.streams.changed(envelope.data.user_id)


async def on_task_deleted(ctx: TasksContext, envelope: Envelope[TaskDeleted]) -> None:
    ctx.streams.changed(envelope.data.user_id)


async def on_session_revoked(ctx: TasksContext, envelope: Envelope[SessionRevoked]) -> None:
    """A session ended: every replica refuses its tokens from now on, and its streams
    close now, wherever they are."""
    ctx.revocations.ended(envelope.data.session_id, envelope.data.expires_at)
    ctx.streams.end_session(envelope.data.session_id)


async def on_user_deleted(ctx: TasksContext, envelope: Envelope[UserDeleted]) -> None:
    ctx.streams.end_user(envelope.data.user_id)
