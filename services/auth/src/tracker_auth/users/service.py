"""Accounts: registration."""

from sqlalchemy.ext.asyncio import AsyncSession

from tracker_auth.context import AuthContext
from tracker_auth.db import outbox
from tracker_auth.sessions import service as sessions
from tracker_auth.tokens import IssuedTokens
from tracker_auth.users import repository
from tracker_auth.users.models import User
from tracker_auth.users.schemas import Registration
from tracker_contracts import UserRegistered
from tracker_runtime.errors import APIError
from tracker_runtime.outbox import add_event

EMAIL_TAKEN = "This email is already taken"


async def register(
    db: AsyncSession, ctx: AuthContext, registration: Registration
) -> tuple[User, IssuedTokens]:
    """Create the account, its ``user.registered`` event and a first session, all in one
    transaction: either everything is stored or nothing is."""
    password_hash = await ctx.hasher.hash(registration.password)
    user = await repository.insert_unless_taken(
        db,
        email=registration.email,
        password_hash=password_hash,
        timezone=registration.timezone or ctx.settings.default_timezone,
    )
    if user is None:
        raise APIError(409, EMAIL_TAKEN, errors=[{"field": "email", "message": EMAIL_TAKEN}])
    await add_event(
        db, outbox, UserRegistered(user_id=user.id, email=user.email, timezone=user.timezone)
    )
    return user, await sessions.start(db, ctx, user)
