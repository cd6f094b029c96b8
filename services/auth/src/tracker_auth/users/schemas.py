import uuid
from datetime import datetime
from typing import Annotated, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    model_validator,
)

from tracker_auth.passwords import MAX_LENGTH, MIN_LENGTH, is_common
from tracker_runtime.timezones import validate_timezone


def _not_common(password: str) -> str:
    if is_common(password):
        raise ValueError("This password is too common; choose one that is harder to guess")
    return password


Email = Annotated[EmailStr, StringConstraints(max_length=254)]
NewPassword = Annotated[
    str, Field(min_length=MIN_LENGTH, max_length=MAX_LENGTH), AfterValidator(_not_common)
]
Timezone = Annotated[str, Field(max_length=64), AfterValidator(validate_timezone)]


class Registration(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    email: Email
    password: NewPassword
    timezone: Timezone | None = Field(
        default=None, description="IANA timezone; the server default when omitted"
    )


class Preferences(BaseModel):
    """A change to the user's mail preferences; fields left out stay as they are."""

    model_config = ConfigDict(extra="forbid")

    timezone: Timezone | None = Field(
        default=None, description="IANA timezone: the digest arrives at its midnight"
    )
    digest_enabled: bool | None = Field(default=None, description="Whether to send the digest")
    reminders_enabled: bool | None = Field(
        default=None, description="Whether to send the reminder mails of tasks"
    )

    @model_validator(mode="after")
    def _changes_something(self) -> Self:
        if self.timezone is None and self.digest_enabled is None and self.reminders_enabled is None:
            raise ValueError("Give at least one of timezone, digest_enabled and reminders_enabled")
        return self


LinkToken = Annotated[
    str, Field(min_length=1, max_length=200, description="The token from the mail's link")
]
CurrentPassword = Annotated[str, Field(min_length=1, max_length=MAX_LENGTH)]


class EmailVerification(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: LinkToken


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: CurrentPassword
    new_password: NewPassword


class AccountDeletion(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: CurrentPassword


class PasswordResetRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email


class PasswordResetConfirmation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: LinkToken
    new_password: NewPassword


class UserOut(BaseModel):
    id: uuid.UUID
    email: str
    email_verified: bool
    timezone: str
    digest_enabled: bool
    reminders_enabled: bool
    created_at: datetime


class SignedIn(UserOut):
    """The user, with the access token for clients that do not use cookies."""

    access_token: str
    token_type: str = "Bearer"
    expires_in: int = Field(description="Seconds until the access token expires")
