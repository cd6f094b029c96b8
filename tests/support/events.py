"""Events as auth publishes them, built for the consumers' tests."""

import uuid
from datetime import UTC, datetime

from tracker_contracts import Envelope, EventData, UserRegistered, UserUpdated


def envelope(data: EventData, at: datetime | None = None) -> Envelope[EventData]:
    """``data`` in the envelope of an event that occurred ``at`` (now by default)."""
    return Envelope[EventData](
        event_type=data.EVENT_TYPE, data=data, occurred_at=at or datetime.now(UTC)
    )


def user_registered(
    email: str = "ada@example.com",
    *,
    user_id: uuid.UUID | None = None,
    timezone: str = "Europe/Berlin",
    at: datetime | None = None,
) -> Envelope[EventData]:
    """``user.registered`` of ``email`` (a new user id unless ``user_id`` is given)."""
    data = UserRegistered(user_id=user_id or uuid.uuid4(), email=email, timezone=timezone)
    return envelope(data, at)


def user_updated(
    user_id: uuid.UUID,
    *,
    email: str = "ada@example.com",
    timezone: str = "Europe/Berlin",
    digest_enabled: bool = True,
    at: datetime | None = None,
) -> Envelope[EventData]:
    """``user.updated``: the user's mail preferences as they now are."""
    data = UserUpdated(
        user_id=user_id, email=email, timezone=timezone, digest_enabled=digest_enabled
    )
    return envelope(data, at)
