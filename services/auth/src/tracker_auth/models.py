"""Every table of the auth service, registered on :data:`Base.metadata` by importing this."""

from tracker_auth.db import Base, outbox
from tracker_auth.limits.models import RateLimit
from tracker_auth.sessions.models import AuthSession, RefreshToken
from tracker_auth.users.models import AccountToken, User

__all__ = ["AccountToken", "AuthSession", "Base", "RateLimit", "RefreshToken", "User", "outbox"]
