"""Internal HTTP API models: what services ask each other, never routed by the gateway."""

import uuid
from datetime import date
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
    day: date | None = None
    """The local calendar day the window is (the users' zones share it). With it, each
    summary also tells what is overdue (open, due on or before ``day``) and what is due the
    next day, the one that starts at ``end``; without it those parts are empty. Due dates
    are the owners' local dates, so no timezone is needed."""

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
    overdue_count: int = 0
    overdue_titles: list[str] = []
    """Open tasks due on or before the request's ``day``, the longest overdue first (by due
    date, then due time, untimed ones last within a day), at most ``titles``."""
    due_today_count: int = 0
    due_today_titles: list[str] = []
    """Open tasks due the day after the request's ``day``, by due time (untimed ones last),
    at most ``titles``."""


class SummariesResponse(BaseModel):
    summaries: list[UserSummary]
    """One entry per requested user, users without tasks included (with zero counts)."""


class ServiceTokenResponse(BaseModel):
    access_token: str
    token_type: str = "Bearer"
    expires_in: int
    scope: str
