import base64
import binascii
import json
import uuid
from datetime import datetime
from typing import Annotated, Any, Self

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
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


class TaskCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    description: Description = ""


class TaskUpdate(BaseModel):
    """A partial change: only the fields present are changed, and at least one must be."""

    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    description: Description | None = None
    status: TaskStatus | None = Field(
        default=None, description='"done" completes the task, "open" reopens it.'
    )

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
            raise ValueError("Send at least one of title, description, status")
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


class Cursor(BaseModel):
    """Where a page ended: the last task's segment, sort time and id (keyset pagination).

    Opaque to clients (base64url of this model as JSON). It is not signed, and needs not be:
    every query is limited to the caller's own tasks, so a forged cursor only skips ahead.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: TaskStatus
    at: AwareDatetime
    id: uuid.UUID

    def encode(self) -> str:
        raw = self.model_dump_json().encode()
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
