import base64
import binascii
import json
import re
import uuid
from datetime import UTC, date, datetime, time
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from tracker_runtime.text import multiline, single_line
from tracker_tasks.tasks.models import DESCRIPTION_MAX_LENGTH, TITLE_MAX_LENGTH, TaskStatus

Title = Annotated[
    str,
    StringConstraints(
        strict=True, strip_whitespace=True, min_length=1, max_length=TITLE_MAX_LENGTH
    ),
    AfterValidator(single_line),  # after the trimming: a trailing line break is trimmed
    Field(
        description="Leading and trailing whitespace is removed; 1 to 200 characters remain, "
        "none of them a control or bidirectional control character."
    ),
]
Description = Annotated[
    str,
    StringConstraints(strict=True, max_length=DESCRIPTION_MAX_LENGTH),
    AfterValidator(multiline),
    Field(
        description="Free text, up to 10,000 characters; line breaks and tabs, but no other "
        "control or bidirectional control character."
    ),
]

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_TIME = re.compile(r"([01]\d|2[0-3]):[0-5]\d", re.ASCII)
_INSTANT = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([Zz]|[+-]\d{2}:\d{2})", re.ASCII
)


def _blank_is_null(value: object) -> object:
    """An empty form field clears, as ``null`` does in JSON (a form cannot send null)."""
    return None if value == "" else value


def _due_date(value: object) -> object:
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise ValueError("Must be a date written YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise ValueError(f"{value} is not a day of the calendar") from error


def _due_time(value: object) -> object:
    if not isinstance(value, str) or not _TIME.fullmatch(value):
        raise ValueError("Must be a time of day written HH:MM, from 00:00 to 23:59")
    return time.fromisoformat(value)


def _instant(value: object) -> object:
    if not isinstance(value, str) or not _INSTANT.fullmatch(value):
        raise ValueError(
            "Must be an instant in RFC 3339 with its UTC offset, e.g. 2026-12-03T09:30:00Z"
        )
    try:
        return datetime.fromisoformat(value.upper().replace("Z", "+00:00")).astimezone(UTC)
    except (ValueError, OverflowError) as error:
        raise ValueError(f"{value} is not an instant of the calendar") from error


BLANK = {"type": "string", "maxLength": 0}
"""An empty string, documented beside null: it clears too (a form cannot send null)."""

DueDate = Annotated[
    date | None,
    BeforeValidator(lambda value: None if (v := _blank_is_null(value)) is None else _due_date(v)),
    WithJsonSchema({"anyOf": [{"type": "string", "format": "date"}, BLANK, {"type": "null"}]}),
    Field(
        description='The day the task is due, YYYY-MM-DD; null or "" clears it (and '
        "needs due_time cleared too)."
    ),
]
_TIME_SCHEMA = {"type": "string", "pattern": f"^{_TIME.pattern}$"}
_DUE_TIME_OUT = (
    PlainSerializer(
        lambda value: None if value is None else value.strftime("%H:%M"), when_used="json"
    ),
    WithJsonSchema({"anyOf": [_TIME_SCHEMA, {"type": "null"}]}),
)
DueTime = Annotated[
    time | None,
    BeforeValidator(lambda value: None if (v := _blank_is_null(value)) is None else _due_time(v)),
    *_DUE_TIME_OUT,
    WithJsonSchema({"anyOf": [_TIME_SCHEMA, BLANK, {"type": "null"}]}),
    Field(
        description="HH:MM, a wall-clock time in the owner's timezone; only with a due_date. "
        'null or "" clears it.',
    ),
]
DueTimeOut = Annotated[time | None, *_DUE_TIME_OUT]
ReminderAt = Annotated[
    datetime | None,
    BeforeValidator(lambda value: None if (v := _blank_is_null(value)) is None else _instant(v)),
    WithJsonSchema({"anyOf": [{"type": "string", "format": "date-time"}, BLANK, {"type": "null"}]}),
    Field(
        description="When to send the reminder mail: an RFC 3339 instant with its UTC "
        'offset; null or "" clears it.'
    ),
]


class TaskCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    description: Description = ""
    due_date: DueDate = None
    due_time: DueTime = None
    reminder_at: ReminderAt = None


class TaskUpdate(BaseModel):
    """A partial change: only the fields present are changed, and at least one must be."""

    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    description: Description | None = None
    status: TaskStatus | None = Field(
        default=None, description='"done" completes the task, "open" reopens it.'
    )
    due_date: DueDate = None
    due_time: DueTime = None
    reminder_at: ReminderAt = None

    @field_validator("title", "description", "status", mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        # Absent means "leave as is"; an explicit null would mean "erase", which no field allows.
        if value is None:
            raise ValueError("Must not be null")
        return value

    @model_validator(mode="after")
    def _changes_something(self) -> Self:
        if not self.model_fields_set:
            raise ValueError(
                "Send at least one of title, description, status, due_date, due_time, reminder_at"
            )
        return self


class TaskOut(BaseModel):
    id: uuid.UUID
    title: str
    description: str
    status: TaskStatus
    completed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    version: int = Field(description="Changes with every change; the ETag carries it.")
    due_date: date | None
    due_time: DueTimeOut = Field(description="HH:MM in the owner's timezone, or null")
    reminder_at: datetime | None

    @classmethod
    def of(cls, task: object) -> "TaskOut":
        """A stored task (an ORM object or a row of the table) as the API answers it. Its
        values are not validated again: the table's types and checks already hold them to
        this shape, and validating a page of 50 costs more than reading it."""
        return cls.model_construct(**{name: getattr(task, name) for name in cls.model_fields})


class ListSort(StrEnum):
    CREATED = "created"
    """Open tasks newest-created first, then done tasks newest-completed first."""
    DUE = "due"
    """Open dated tasks by due date and time (so the overdue ones come first), then open
    undated tasks newest-created first, then done tasks newest-completed first."""


class Cursor(BaseModel):
    """Where a page ended: the last task's segment, sort key and id (keyset pagination).

    A segment is a status, and with ``?sort=due`` the open tasks split in two: dated ones
    (the cursor carries ``due_date`` and ``due_time``) and undated ones (it carries ``at``).

    Opaque to clients (base64url of this model as JSON). It is not signed, and needs not be:
    every query is limited to the caller's own tasks, so a forged cursor only skips ahead.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: TaskStatus
    at: AwareDatetime | None = None
    """Creation time (open tasks) or completion time (done tasks)."""
    due_date: date | None = None
    due_time: time | None = None
    id: uuid.UUID

    @model_validator(mode="after")
    def _one_sort_key(self) -> Self:
        if (self.at is None) == (self.due_date is None):
            raise ValueError("A cursor holds either a time or a due date")
        if self.due_time is not None and self.due_date is None:
            raise ValueError("A cursor's due time comes with a due date")
        return self

    @property
    def dated(self) -> bool:
        return self.due_date is not None

    def encode(self) -> str:
        raw = self.model_dump_json(exclude_none=True).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    @classmethod
    def decode(cls, value: str) -> Self:
        """The cursor in ``value``; ``ValueError`` when it is not one of ours."""
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
            data: Any = json.loads(raw)
            return cls.model_validate(data)
        except (binascii.Error, UnicodeDecodeError, json.JSONDecodeError, ValidationError) as error:
            raise ValueError("Invalid cursor") from error
