"""Every table of the notifier, registered on :data:`Base.metadata` by importing this."""

from tracker_notifier.db import Base
from tracker_notifier.deliveries.models import Delivery, DeliveryStatus
from tracker_notifier.digest.models import DigestClaim
from tracker_notifier.events.models import ProcessedEvent
from tracker_notifier.recipients.models import ErasedUser, Recipient
from tracker_notifier.reminders.models import Reminder, ReminderSkips

__all__ = [
    "Base",
    "Delivery",
    "DeliveryStatus",
    "DigestClaim",
    "ErasedUser",
    "ProcessedEvent",
    "Recipient",
    "Reminder",
    "ReminderSkips",
]
