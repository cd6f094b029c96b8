from pydantic import BaseModel, ConfigDict, Field

from tracker_auth.passwords import MAX_LENGTH
from tracker_auth.users.schemas import Email


class Credentials(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    password: str = Field(min_length=1, max_length=MAX_LENGTH)
