"""Accounts: registration and mail preferences."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from tracker_auth.context import AuthContext
from tracker_auth.db import outbox
from tracker_auth.sessions import service as sessions
from tracker_auth.tokens import IssuedTokens
from tracker_auth.users import repository
from tracker_auth.users.models import User
from tracker_auth.users.schemas import Preferences, Registration
from tracker_contracts import UserRegistered, UserUpdated
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


async def update_preferences(
    db: AsyncSession, user_id: uuid.UUID, preferences: Preferences
) -> User:
    """Apply the change and, when something changed, write ``user.updated`` with it."""
    user = await repository.lock(db, user_id)
    if user is None:
        raise APIError(401, "This account no longer exists")
    changes = preferences.model_dump(exclude_none=True)
    if any(getattr(user, field) != value for field, value in changes.items()):
        for field, value in changes.items():
            setattr(user, field, value)
        await db.flush()
        await add_event(db, outbox, updated_event(user))
    return user


async def unsubscribe(db: AsyncSession, user_id: uuid.UUID) -> User | None:
    """Turn the user's digest off (the one-click unsubscribe link); ``None`` when the
    account is gone. Repeating it changes nothing and writes no event."""
    user = await repository.lock(db, user_id)
    if user is not None and user.digest_enabled:
        user.digest_enabled = False
        await db.flush()
        await add_event(db, outbox, updated_event(user))
    return user


def updated_event(user: User) -> UserUpdated:
    return UserUpdated(
        user_id=user.id,
        email=user.email,
        timezone=user.timezone,
        digest_enabled=user.digest_enabled,
    )
