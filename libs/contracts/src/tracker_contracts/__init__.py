"""Event and API models shared by every task-tracker service.

This package is pure data: pydantic models, names and constants. It performs no I/O.
"""

from tracker_contracts.events import (
    EVENT_MODELS,
    Envelope,
    EventData,
    EventType,
    InvalidEvent,
    SessionRevoked,
    TaskCompleted,
    TaskCreated,
    TaskDeleted,
    TaskUpdated,
    UserDeleted,
    UserPasswordResetRequested,
    UserRegistered,
    UserUpdated,
    UserVerificationRequested,
    UserVerified,
    event_data_model,
    parse_envelope,
    validate_event,
)
from tracker_contracts.messaging import DEAD_LETTER_EXCHANGE, EVENTS_EXCHANGE

__all__ = [
    "DEAD_LETTER_EXCHANGE",
    "EVENTS_EXCHANGE",
    "EVENT_MODELS",
    "Envelope",
    "EventData",
    "EventType",
    "InvalidEvent",
    "SessionRevoked",
    "TaskCompleted",
    "TaskCreated",
    "TaskDeleted",
    "TaskUpdated",
    "UserDeleted",
    "UserPasswordResetRequested",
    "UserRegistered",
    "UserUpdated",
    "UserVerificationRequested",
    "UserVerified",
    "event_data_model",
    "parse_envelope",
    "validate_event",
]
