"""The handler of each event type the notifier consumes (subscribed in ``subscriptions``).

Handlers only write to the database, in the caller's transaction; they return the ids of
the deliveries to send, which the caller enqueues after the commit (a send task must never
see a delivery that is not stored yet).

Every handler of a ``user.*`` event first takes the user's lock and checks that the
account was not deleted (``recipients.repository.lock_user``, ``is_erased``): an event
about a deleted account, however late it comes, changes nothing and mails nobody.
Events carrying a link's token never log it (the payloads are never logged).
"""

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from tracker_contracts import (
    Envelope,
    UserDeleted,
    UserPasswordResetRequested,
    UserRegistered,
    UserUpdated,
    UserVerificationRequested,
    UserVerified,
)
from tracker_notifier.config import Settings
from tracker_notifier.deliveries import repository as deliveries
from tracker_notifier.deliveries.models import DeliveryStatus
from tracker_notifier.mail import messages
from tracker_notifier.mail.kinds import ConfirmAddress, MailKind, PasswordReset, Welcome
from tracker_notifier.recipients import repository as recipients
from tracker_notifier.reminders import repository as reminders
from tracker_runtime.timezones import known_timezones

logger = logging.getLogger("tracker.notifier.events")


@dataclass(frozen=True, slots=True)
class Handling:
    """What every handler works with: the transaction and the settings."""

    session: Session
    settings: Settings


def on_user_registered(handling: Handling, envelope: Envelope[UserRegistered]) -> list[int]:
    """A new recipient, unconfirmed until ``user.verified``, and the welcome mail with the
    link that confirms the address (an event stored before it carried the link leaves the
    welcome to the ``user.verification_requested`` that came with it)."""
    data = envelope.data
    if refused_as_erased(handling, envelope, data.user_id):
        return []
    recipients.upsert_recipient(
        handling.session,
        user_id=data.user_id,
        email=data.email,
        timezone=_timezone(handling, data.timezone),
        digest_enabled=True,
        reminders_enabled=True,
        email_verified=False,
        changed_at=envelope.occurred_at,
    )
    logger.info("recipient stored", extra=about(envelope))
    if data.token is None or data.expires_at is None:
        return []
    welcome = Welcome(token=data.token, expires_at=data.expires_at)
    return _queue_link_mail(handling, envelope, data.user_id, data.email, welcome)


def on_user_updated(handling: Handling, envelope: Envelope[UserUpdated]) -> list[int]:
    """New preferences (timezone, digest and reminders on or off) and whether the address
    is confirmed apply from the next tick on; an older event arriving after a newer one
    changes nothing."""
    _apply_state(handling, envelope)
    return []


def on_user_verified(handling: Handling, envelope: Envelope[UserVerified]) -> list[int]:
    """The address is confirmed: the digest (if on) goes to it from the next tick on.
    Carries the whole state, so it applies like ``user.updated``, by ``occurred_at``."""
    _apply_state(handling, envelope)
    return []


def _apply_state(
    handling: Handling, envelope: Envelope[UserUpdated] | Envelope[UserVerified]
) -> None:
    data = envelope.data
    if refused_as_erased(handling, envelope, data.user_id):
        return
    recipients.upsert_recipient(
        handling.session,
        user_id=data.user_id,
        email=data.email,
        timezone=_timezone(handling, data.timezone),
        digest_enabled=data.digest_enabled,
        reminders_enabled=data.reminders_enabled,
        email_verified=data.email_verified,
        changed_at=envelope.occurred_at,
    )
    logger.info("recipient updated", extra=about(envelope))


def on_user_deleted(handling: Handling, envelope: Envelope[UserDeleted]) -> list[int]:
    """Erase the person: their reminders, every delivery of theirs (unsent ones never go
    out; a mail being sent right now is waited for), their digest claims and the
    recipient, keeping only their id for a while (see ``recipients.models.ErasedUser``)."""
    user_id = envelope.data.user_id
    session = handling.session
    recipients.lock_user(session, user_id)
    # Reminders first: a reminders tick locks a reminder, then its recipient; taking them
    # in the same order never deadlocks with it.
    erased_reminders = reminders.delete_of_user(session, user_id)
    recipients.hold_recipient(session, user_id)
    mails = deliveries.delete_of_user(session, user_id)
    recipients.erase(session, user_id)
    logger.info(
        "recipient erased",
        extra={
            **about(envelope),
            "deliveries_deleted": mails,
            "reminders_deleted": erased_reminders,
        },
    )
    return []


def on_user_verification_requested(
    handling: Handling, envelope: Envelope[UserVerificationRequested]
) -> list[int]:
    """A new link to confirm the address (or, in an event stored before
    ``user.registered`` carried it, the welcome mail)."""
    data = envelope.data
    payload: MailKind
    if data.welcome:
        payload = Welcome(token=data.token, expires_at=data.expires_at)
    else:
        payload = ConfirmAddress(token=data.token, expires_at=data.expires_at)
    return _link_mail(handling, envelope, data.user_id, data.email, payload)


def on_user_password_reset_requested(
    handling: Handling, envelope: Envelope[UserPasswordResetRequested]
) -> list[int]:
    """The link to choose a new password; sent to unconfirmed addresses too (resetting
    through it confirms the address)."""
    data = envelope.data
    payload = PasswordReset(token=data.token, expires_at=data.expires_at)
    return _link_mail(handling, envelope, data.user_id, data.email, payload)


def _link_mail(
    handling: Handling,
    envelope: Envelope[Any],
    user_id: uuid.UUID,
    email: str,
    payload: MailKind,
) -> list[int]:
    """Store a mail carrying a link, to ``email``, whether or not the address is confirmed
    (these are the mails an unconfirmed address gets)."""
    session = handling.session
    if refused_as_erased(handling, envelope, user_id):
        return []
    # Events are not ordered: this one may come before the account's user.registered.
    recipients.ensure_recipient(
        session, user_id=user_id, email=email, timezone=handling.settings.default_timezone
    )
    return _queue_link_mail(handling, envelope, user_id, email, payload)


def _queue_link_mail(
    handling: Handling,
    envelope: Envelope[Any],
    user_id: uuid.UUID,
    email: str,
    payload: MailKind,
) -> list[int]:
    """Store the mail (once per idempotency key) for a recipient that exists; the ids of
    the deliveries to send."""
    session = handling.session
    delivery_id = deliveries.create_delivery(
        session,
        payload=payload,
        user_id=user_id,
        event_id=envelope.event_id,
        to_address=email,
        message_id=messages.new_message_id(handling.settings.mail_from_address),
    )
    if delivery_id is not None:
        logger.info(
            "%s mail queued", payload.KIND, extra={**about(envelope), "delivery_id": delivery_id}
        )
        return [delivery_id]
    # The same mail under another event id (an event replayed under a new id, say).
    existing = deliveries.get_by_key(session, payload.idempotency_key(user_id))
    if existing and existing.status is DeliveryStatus.PENDING and existing.attempts == 0:
        return [existing.id]
    return []


def refused_as_erased(handling: Handling, envelope: Envelope[Any], user_id: uuid.UUID) -> bool:
    """Take the user's lock; ``True`` (and a log line) when their account was deleted."""
    recipients.lock_user(handling.session, user_id)
    if recipients.is_erased(handling.session, user_id):
        logger.info("event about a deleted account ignored", extra=about(envelope))
        return True
    return False


def _timezone(handling: Handling, timezone: str) -> str:
    """The event's timezone, or the default for one this machine does not know."""
    return timezone if timezone in known_timezones() else handling.settings.default_timezone


def about(envelope: Envelope[Any]) -> dict[str, str]:
    return {"event_id": str(envelope.event_id), "event_type": envelope.event_type.value}
