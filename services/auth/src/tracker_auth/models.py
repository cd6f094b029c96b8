"""Every table of the auth service, registered on :data:`Base.metadata` by importing this."""

from tracker_auth.db import Base, outbox
from tracker_auth.sessions.models import AuthSession, LoginThrottle, RefreshToken
from tracker_auth.users.models import User

__all__ = ["AuthSession", "Base", "LoginThrottle", "RefreshToken", "User", "outbox"]
