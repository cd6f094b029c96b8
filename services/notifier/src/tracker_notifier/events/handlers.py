"""The handler of each event type the notifier consumes (subscribed in ``subscriptions``).

Handlers only write to the database, in the caller's transaction; they return the ids of
the deliveries to send, which the caller enqueues after the commit (a send task must never
see a delivery that is not stored yet).
"""

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from tracker_contracts import Envelope, UserRegistered, UserUpdated
from tracker_notifier.config import Settings
from tracker_notifier.deliveries import repository as deliveries
from tracker_notifier.deliveries.models import DeliveryStatus
from tracker_notifier.mail import messages
from tracker_notifier.mail.kinds import Welcome
from tracker_notifier.recipients import repository as recipients
from tracker_runtime.timezones import known_timezones

logger = logging.getLogger("tracker.notifier.events")


@dataclass(frozen=True, slots=True)
class Handling:
    """What every handler works with: the transaction and the settings."""

    session: Session
    settings: Settings


def on_user_registered(handling: Handling, envelope: Envelope[UserRegistered]) -> list[int]:
    data = envelope.data
    _store_recipient(handling, envelope, digest_enabled=True)
    welcome = Welcome()
    delivery_id = deliveries.create_delivery(
        handling.session,
        payload=welcome,
        user_id=data.user_id,
        event_id=envelope.event_id,
        to_address=data.email,
        message_id=messages.new_message_id(handling.settings.mail_from_address),
    )
    if delivery_id is not None:
        logger.info("welcome mail queued", extra={**about(envelope), "delivery_id": delivery_id})
        return [delivery_id]
    # The same user under another event id (an event replayed under a new id, say).
    existing = deliveries.get_by_key(handling.session, welcome.idempotency_key(data.user_id))
    if existing and existing.status is DeliveryStatus.PENDING and existing.attempts == 0:
        return [existing.id]
    return []


def on_user_updated(handling: Handling, envelope: Envelope[UserUpdated]) -> list[int]:
    """New preferences (timezone, digest on or off) apply from the next tick on; an older
    event arriving after a newer one changes nothing."""
    _store_recipient(handling, envelope, digest_enabled=envelope.data.digest_enabled)
    logger.info("recipient updated", extra=about(envelope))
    return []


def _store_recipient(
    handling: Handling,
    envelope: Envelope[UserRegistered] | Envelope[UserUpdated],
    *,
    digest_enabled: bool,
) -> None:
    """The event's user as a recipient, unless newer data is stored; an unknown timezone
    falls back to the default."""
    data = envelope.data
    settings = handling.settings
    timezone = data.timezone if data.timezone in known_timezones() else settings.default_timezone
    recipients.upsert_recipient(
        handling.session,
        user_id=data.user_id,
        email=data.email,
        timezone=timezone,
        digest_enabled=digest_enabled,
        changed_at=envelope.occurred_at,
    )


def about(envelope: Envelope[Any]) -> dict[str, str]:
    return {"event_id": str(envelope.event_id), "event_type": envelope.event_type.value}
