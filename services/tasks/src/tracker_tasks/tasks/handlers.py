"""The handler of each event type the tasks service consumes about tasks (subscribed in
``tracker_tasks.events.subscriptions``)."""

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from tracker_contracts import Envelope, UserDeleted
from tracker_tasks.live import repository as feed
from tracker_tasks.tasks import repository

logger = logging.getLogger("tracker.tasks.events")


async def on_user_deleted(session: AsyncSession, envelope: Envelope[UserDeleted]) -> None:
    """Erase the person: every task of theirs, their change feed and every event about them
    still in the outbox, so that nothing in this database mentions them. A redelivered event finds
    nothing left and changes nothing.

    Unpublished events go too: they only tell of tasks that no longer exist, to consumers
    that erase the person anyway. Revoked sessions stay until they expire, as for anyone:
    they hold session ids only, never the user's."""
    user_id = envelope.data.user_id
    tasks = await repository.delete_of_owner(session, user_id)
    events = await repository.delete_events_about(session, user_id)
    changes = await feed.delete_of_owner(session, user_id)
    logger.info(
        "user erased",
        extra={
            "event_id": str(envelope.event_id),
            "tasks": tasks,
            "outbox_events": events,
            "changes": changes,
        },
    )
