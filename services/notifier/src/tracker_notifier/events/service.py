"""Handling a received event: the inbox decides whether it is new, the handler of its type
does the work, all in the caller's transaction.

Handlers only write to the database; they return the deliveries to send, which the caller
enqueues after the commit (a send task must never see a delivery that is not stored yet).
"""

import logging
from collections.abc import Callable

from sqlalchemy.orm import Session

from tracker_contracts import Envelope, EventData, UserRegistered, UserUpdated
from tracker_notifier.config import Settings
from tracker_notifier.deliveries import repository as deliveries
from tracker_notifier.deliveries.models import DeliveryStatus
from tracker_notifier.events import repository as inbox
from tracker_notifier.mail import messages
from tracker_notifier.mail.kinds import Welcome
from tracker_notifier.recipients import repository as recipients
from tracker_runtime.timezones import known_timezones

logger = logging.getLogger("tracker.notifier.events")

Handler = Callable[[Session, Envelope[EventData], Settings], list[int]]


def handle_event(session: Session, envelope: Envelope[EventData], settings: Settings) -> list[int]:
    """Apply the event once; returns the ids of the deliveries to send now.

    A duplicate (an event id already in the inbox) changes nothing, but still returns the
    deliveries it created that no send task ever touched: a worker killed after the commit
    and before it enqueued them would otherwise leave them pending for good.
    """
    handler = HANDLERS.get(type(envelope.data))
    if handler is None:
        logger.info("event type not handled here", extra=_about(envelope))
        return []
    if not inbox.record_processed(session, envelope.event_id, envelope.event_type.value):
        logger.info("duplicate event, already processed", extra=_about(envelope))
        return deliveries.never_attempted(session, event_id=envelope.event_id)
    return handler(session, envelope, settings)


def on_user_registered(
    session: Session, envelope: Envelope[EventData], settings: Settings
) -> list[int]:
    data = envelope.data
    assert isinstance(data, UserRegistered)
    _store_recipient(session, envelope, settings, digest_enabled=True)
    welcome = Welcome()
    delivery_id = deliveries.create_delivery(
        session,
        payload=welcome,
        user_id=data.user_id,
        event_id=envelope.event_id,
        to_address=data.email,
        message_id=messages.new_message_id(settings.mail_from_address),
    )
    if delivery_id is not None:
        logger.info("welcome mail queued", extra={**_about(envelope), "delivery_id": delivery_id})
        return [delivery_id]
    # The same user under another event id (an event replayed under a new id, say).
    existing = deliveries.get_by_key(session, welcome.idempotency_key(data.user_id))
    if existing and existing.status is DeliveryStatus.PENDING and existing.attempts == 0:
        return [existing.id]
    return []


def on_user_updated(
    session: Session, envelope: Envelope[EventData], settings: Settings
) -> list[int]:
    """New preferences (timezone, digest on or off) apply from the next tick on; an older
    event arriving after a newer one changes nothing."""
    data = envelope.data
    assert isinstance(data, UserUpdated)
    _store_recipient(session, envelope, settings, digest_enabled=data.digest_enabled)
    logger.info("recipient updated", extra=_about(envelope))
    return []


def _store_recipient(
    session: Session, envelope: Envelope[EventData], settings: Settings, *, digest_enabled: bool
) -> None:
    """The event's user as a recipient, unless newer data is stored; an unknown timezone
    falls back to the default."""
    data = envelope.data
    assert isinstance(data, UserRegistered | UserUpdated)
    timezone = data.timezone if data.timezone in known_timezones() else settings.default_timezone
    recipients.upsert_recipient(
        session,
        user_id=data.user_id,
        email=data.email,
        timezone=timezone,
        digest_enabled=digest_enabled,
        changed_at=envelope.occurred_at,
    )


HANDLERS: dict[type[EventData], Handler] = {
    UserRegistered: on_user_registered,
    UserUpdated: on_user_updated,
}


def _about(envelope: Envelope[EventData]) -> dict[str, str]:
    return {"event_id": str(envelope.event_id), "event_type": envelope.event_type.value}
