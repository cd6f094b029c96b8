"""Names on the wire: the exchanges and the routing keys (which are the event types)."""

from enum import StrEnum

EVENTS_EXCHANGE = "tracker.events"
"""The one durable topic exchange every event is published to."""

DEAD_LETTER_EXCHANGE = "tracker.dead-letter"
"""Where consumers send messages they cannot process."""


class EventType(StrEnum):
    """Event types, named in the past tense. The routing key of an event is its type."""

    USER_REGISTERED = "user.registered"
    USER_UPDATED = "user.updated"
    SESSION_REVOKED = "session.revoked"
    TASK_COMPLETED = "task.completed"
