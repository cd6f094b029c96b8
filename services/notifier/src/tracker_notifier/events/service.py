"""Handling a received event: the inbox decides whether it is new, the handler its
subscription names does the work, all in the caller's transaction (see ``handlers``)."""

import logging

from sqlalchemy.orm import Session

from tracker_contracts import Envelope, EventData
from tracker_notifier.config import Settings
from tracker_notifier.deliveries import repository as deliveries
from tracker_notifier.events import repository as inbox
from tracker_notifier.events.handlers import Handling, about
from tracker_notifier.events.subscriptions import SUBSCRIPTIONS

logger = logging.getLogger("tracker.notifier.events")


def handle_event(session: Session, envelope: Envelope[EventData], settings: Settings) -> list[int]:
    """Apply the event once; returns the ids of the deliveries to send now.

    A duplicate (an event id already in the inbox) changes nothing, but still returns the
    deliveries its first handling left unsent: a worker killed after the commit, before or
    while sending them, would otherwise leave them pending (or ``sending``) for good.
    """
    if type(envelope.data) not in SUBSCRIPTIONS.events:
        logger.info("event type not handled here", extra=about(envelope))
        return []
    if not inbox.record_processed(session, envelope.event_id, envelope.event_type.value):
        logger.info("duplicate event, already processed", extra=about(envelope))
        return deliveries.left_by_event(session, event_id=envelope.event_id)
    return SUBSCRIPTIONS.dispatch(Handling(session, settings), envelope)
