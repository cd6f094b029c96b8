"""What each event does to the streams of this process (subscribed in
``tracker_tasks.events.subscriptions``). Each only flags streams: never a wait."""

from tracker_contracts import (
    Envelope,
    SessionRevoked,
    TaskCreated,
    TaskDeleted,
    TaskUpdated,
    UserDeleted,
)
from tracker_tasks.live.hub import StreamHub


async def on_task_created(hub: StreamHub, envelope: Envelope[TaskCreated]) -> None:
    """A person's tasks changed: their streams read their feed (each event the same)."""
    hub.changed(envelope.data.user_id)


async def on_task_updated(hub: StreamHub, envelope: Envelope[TaskUpdated]) -> None:
    hub.changed(envelope.data.user_id)


async def on_task_deleted(hub: StreamHub, envelope: Envelope[TaskDeleted]) -> None:
    hub.changed(envelope.data.user_id)


async def on_session_revoked(hub: StreamHub, envelope: Envelope[SessionRevoked]) -> None:
    """A session ended: its streams close now, wherever they are."""
    hub.end_session(envelope.data.session_id)


async def on_user_deleted(hub: StreamHub, envelope: Envelope[UserDeleted]) -> None:
    hub.end_user(envelope.data.user_id)
