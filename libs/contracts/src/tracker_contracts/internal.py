"""Internal HTTP API models: what services ask each other, never routed by the gateway."""

import uuid
from typing import Annotated, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

SUMMARIES_PATH = "/internal/summaries"
SUMMARIES_SCOPE = "tasks:summaries"
"""The scope a service token needs for the summaries API."""
MAX_SUMMARY_USERS = 500
MAX_TITLES = 20


class SummariesRequest(BaseModel):
    """Summaries of many users' tasks for one time window ``[start, end)``."""

    model_config = ConfigDict(extra="forbid")

    user_ids: Annotated[list[uuid.UUID], Field(min_length=1, max_length=MAX_SUMMARY_USERS)]
    start: AwareDatetime
    end: AwareDatetime
    titles: Annotated[int, Field(ge=0, le=MAX_TITLES)] = 5
    """How many titles of each list to include."""

    @model_validator(mode="after")
    def _window_is_forward(self) -> Self:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class UserSummary(BaseModel):
    user_id: uuid.UUID
    open_count: int
    open_titles: list[str]
    """The oldest open tasks first, at most ``titles`` of them."""
    completed_count: int
    completed_titles: list[str]
    """Tasks completed in the window, in completion order, at most ``titles``."""


class SummariesResponse(BaseModel):
    summaries: list[UserSummary]
    """One entry per requested user, users without tasks included (with zero counts)."""


class ServiceTokenResponse(BaseModel):
    access_token: str
    token_type: str = "Bearer"
    expires_in: int
    scope: str
