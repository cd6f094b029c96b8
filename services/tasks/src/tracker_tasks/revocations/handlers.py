"""The handler of each event type the tasks service consumes about sessions (subscribed in
``tracker_tasks.events.subscriptions``)."""

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from tracker_contracts import Envelope, SessionRevoked
from tracker_tasks.revocations import repository

logger = logging.getLogger("tracker.tasks.sessions")


async def on_session_revoked(session: AsyncSession, envelope: Envelope[SessionRevoked]) -> None:
    """Remember the session, so that every replica refuses its tokens; a redelivered event
    changes nothing."""
    data = envelope.data
    await repository.add(session, data.session_id, data.expires_at)
    logger.info("session revoked", extra={"sid": str(data.session_id)})
