"""The event types, the envelope and the payload of each event type.

Every event travels as ``{"event_id", "event_type", "occurred_at", "data"}`` with an
``event_version`` header. Each payload model carries a ``VERSION``; a change that breaks
consumers gets a new version and a new model, never an edit in place. Which queue consumes
which events is declared in ``tracker_contracts.messaging``.
"""

import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, ClassVar, Generic, Literal, Self, TypeVar

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    SerializeAsAny,
    ValidationError,
    field_serializer,
    model_validator,
)


class EventType(StrEnum):
    """Event types, named in the past tense. The routing key of an event is its type."""

    USER_REGISTERED = "user.registered"
    USER_UPDATED = "user.updated"
    USER_VERIFIED = "user.verified"
    USER_DELETED = "user.deleted"
    USER_VERIFICATION_REQUESTED = "user.verification_requested"
    USER_PASSWORD_RESET_REQUESTED = "user.password_reset_requested"
    SESSION_REVOKED = "session.revoked"
    TASK_CREATED = "task.created"
    TASK_UPDATED = "task.updated"
    TASK_DELETED = "task.deleted"
    TASK_COMPLETED = "task.completed"


class EventData(BaseModel):
    """Base of every event payload."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    EVENT_TYPE: ClassVar[EventType]
    VERSION: ClassVar[int]


class UserRegistered(EventData):
    """A person created an account. ``token`` is the secret of the welcome mail's link
    that confirms the address, valid until ``expires_at`` (auth stores only its digest);
    whoever receives this event must keep it out of logs.

    The link came later: an event stored before it carries none, and its welcome mail was
    asked for by a ``user.verification_requested`` with ``welcome`` set."""

    EVENT_TYPE: ClassVar[EventType] = EventType.USER_REGISTERED
    VERSION: ClassVar[int] = 1

    user_id: uuid.UUID
    email: EmailStr
    timezone: str = Field(description="IANA timezone name, e.g. Europe/Berlin")
    token: str | None = Field(
        default=None,
        min_length=16,
        max_length=200,
        description="The secret of the welcome mail's link that confirms the address",
    )
    expires_at: AwareDatetime | None = Field(
        default=None, description="When the welcome mail's link stops working"
    )

    @model_validator(mode="after")
    def _link_whole(self) -> Self:
        if (self.token is None) != (self.expires_at is None):
            raise ValueError("token and expires_at come together")
        return self


class UserUpdated(EventData):
    """A person changed their account or mail preferences. Carries the whole state a
    consumer may keep, so that the newest event alone is enough (compare ``occurred_at``).

    ``email_verified`` and ``reminders_enabled`` came later: an event stored before them
    reads as a confirmed address with reminders on, which is what those accounts are."""

    EVENT_TYPE: ClassVar[EventType] = EventType.USER_UPDATED
    VERSION: ClassVar[int] = 1

    user_id: uuid.UUID
    email: EmailStr
    timezone: str = Field(description="IANA timezone name, e.g. Europe/Berlin")
    digest_enabled: bool = Field(description="Whether the person wants the nightly digest")
    reminders_enabled: bool = Field(
        default=True, description="Whether the person wants reminder mails"
    )
    email_verified: bool = Field(
        default=True, description="Whether the person confirmed the address"
    )


class UserVerified(UserUpdated):
    """A person confirmed their address (from the mail's link, or by resetting their
    password through it). Carries the whole state, like ``user.updated``, with
    ``email_verified`` true, so it applies in any order with the other user events."""

    EVENT_TYPE: ClassVar[EventType] = EventType.USER_VERIFIED
    VERSION: ClassVar[int] = 1

    email_verified: Literal[True] = True


class UserDeleted(EventData):
    """A person deleted their account: every service erases what it holds of them, and
    nothing more is mailed to them."""

    EVENT_TYPE: ClassVar[EventType] = EventType.USER_DELETED
    VERSION: ClassVar[int] = 1

    user_id: uuid.UUID


class UserVerificationRequested(EventData):
    """Mail ``email`` a new link that confirms the address, which the person asked for.
    ``token`` is the secret of the link (auth stores only its digest); whoever receives
    this event must keep it out of logs. (The welcome mail's link comes with
    ``user.registered``; ``welcome`` is set only in events stored before it did.)"""

    EVENT_TYPE: ClassVar[EventType] = EventType.USER_VERIFICATION_REQUESTED
    VERSION: ClassVar[int] = 1

    user_id: uuid.UUID
    email: EmailStr
    token: str = Field(min_length=16, max_length=200)
    expires_at: AwareDatetime
    welcome: bool = Field(
        default=False, description="True for the welcome mail of a new registration"
    )


class UserPasswordResetRequested(EventData):
    """Mail ``email`` a link to choose a new password. ``token`` is the secret of the link
    (auth stores only its digest; it lives until ``expires_at`` and a newer one voids it);
    whoever receives this event must keep it out of logs."""

    EVENT_TYPE: ClassVar[EventType] = EventType.USER_PASSWORD_RESET_REQUESTED
    VERSION: ClassVar[int] = 1

    user_id: uuid.UUID
    email: EmailStr
    token: str = Field(min_length=16, max_length=200)
    expires_at: AwareDatetime


class SessionRevoked(EventData):
    """A session ended (logout or refresh-token reuse); its access tokens must be refused."""

    EVENT_TYPE: ClassVar[EventType] = EventType.SESSION_REVOKED
    VERSION: ClassVar[int] = 1

    session_id: uuid.UUID
    user_id: uuid.UUID
    expires_at: AwareDatetime = Field(
        description="When the session's last access token expires; consumers may forget it then."
    )


class TaskCreated(EventData):
    """A person created a task. Carries the whole task as the API shows it (plus its
    owner), so that a consumer keeps its own copy from the newest event alone (compare
    ``version``)."""

    EVENT_TYPE: ClassVar[EventType] = EventType.TASK_CREATED
    VERSION: ClassVar[int] = 1

    task_id: uuid.UUID
    user_id: uuid.UUID
    title: str = Field(max_length=200)
    description: str = Field(max_length=10_000)
    status: Literal["open", "done"]
    completed_at: AwareDatetime | None
    created_at: AwareDatetime
    updated_at: AwareDatetime
    version: int = Field(ge=1, description="Grows with every change of the task")
    due_date: date | None = None
    due_time: str | None = Field(
        default=None,
        pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$",
        description="HH:MM in the owner's timezone; only with a due_date",
    )
    reminder_at: AwareDatetime | None = None


class TaskUpdated(TaskCreated):
    """A person changed a task (any field, its status included): the whole task as it now
    is."""

    EVENT_TYPE: ClassVar[EventType] = EventType.TASK_UPDATED
    VERSION: ClassVar[int] = 1


class TaskDeleted(EventData):
    """A person deleted a task."""

    EVENT_TYPE: ClassVar[EventType] = EventType.TASK_DELETED
    VERSION: ClassVar[int] = 1

    task_id: uuid.UUID
    user_id: uuid.UUID


class TaskCompleted(EventData):
    """A person marked one of their tasks done."""

    EVENT_TYPE: ClassVar[EventType] = EventType.TASK_COMPLETED
    VERSION: ClassVar[int] = 1

    task_id: uuid.UUID
    user_id: uuid.UUID
    title: str = Field(max_length=200)
    completed_at: AwareDatetime


EVENT_MODELS: dict[EventType, type[EventData]] = {
    model.EVENT_TYPE: model
    for model in (
        UserRegistered,
        UserUpdated,
        UserVerified,
        UserDeleted,
        UserVerificationRequested,
        UserPasswordResetRequested,
        SessionRevoked,
        TaskCreated,
        TaskUpdated,
        TaskDeleted,
        TaskCompleted,
    )
}

DataT = TypeVar("DataT")


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Envelope(BaseModel, Generic[DataT]):
    """The pinned wire format of every event."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    event_type: EventType
    occurred_at: AwareDatetime = Field(default_factory=_utc_now)
    data: SerializeAsAny[DataT]

    @field_serializer("occurred_at")
    def _serialize_occurred_at(self, value: datetime) -> str:
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")

    @classmethod
    def wrap(cls, data: EventData) -> "Envelope[EventData]":
        """The envelope of a new event carrying ``data``."""
        return Envelope[EventData](event_type=data.EVENT_TYPE, data=data)


def event_data_model(event_type: str) -> type[EventData]:
    """The payload model of ``event_type``; raises ``KeyError`` for unknown types."""
    return EVENT_MODELS[EventType(event_type)]


def parse_envelope(raw: bytes | str) -> Envelope[EventData]:
    """Validate a received event, payload included, against its contract.

    Raises ``pydantic.ValidationError`` for a malformed envelope or payload and
    ``ValueError`` for an unknown event type.
    """
    envelope = Envelope[dict[str, Any]].model_validate_json(raw)
    data = event_data_model(envelope.event_type).model_validate(envelope.data)
    return Envelope[EventData](
        event_id=envelope.event_id,
        event_type=envelope.event_type,
        occurred_at=envelope.occurred_at,
        data=data,
    )


class InvalidEvent(ValueError):
    """A received message that is not a valid event of this contract; its consumer
    dead-letters it."""


def validate_event(body: bytes | str, headers: Mapping[str, Any]) -> Envelope[EventData]:
    """The event a consumer received, validated against its contract: envelope, payload and
    the ``event_version`` header (absent is accepted: the envelope does not carry it).

    Raises :class:`InvalidEvent`, with a one-line reason that never quotes the input, for
    anything else: bytes that are not JSON, an unknown event type, a payload that does not
    match its model, another version of the event.
    """
    try:
        envelope = parse_envelope(body)
    except ValidationError as error:  # bad JSON or bytes, unknown type, schema mismatch
        raise InvalidEvent(_one_line(error)) from error
    except Exception as error:
        raise InvalidEvent(f"{type(error).__name__}: {error}") from error
    version = headers.get("event_version")
    expected = type(envelope.data).VERSION
    if version is not None and version != expected:
        raise InvalidEvent(f"event_version {version!r} of {envelope.event_type} is not {expected}")
    return envelope


def _one_line(error: ValidationError) -> str:
    """The validation errors on one line (one log event per line), without the input."""
    problems = (
        f"{'.'.join(str(part) for part in problem['loc']) or 'body'}: {problem['msg']}"
        for problem in error.errors(include_input=False, include_url=False)
    )
    return f"{error.title}: " + "; ".join(problems)
