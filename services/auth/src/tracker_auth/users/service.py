"""Accounts: registration, confirming the address, preferences, the password (changed or
reset from a mailed link) and deleting the account."""

import uuid
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from tracker_auth.context import AuthContext
from tracker_auth.db import outbox
from tracker_auth.limits import repository as limits_repository
from tracker_auth.limits import service as limits
from tracker_auth.sessions import service as sessions
from tracker_auth.tokens import IssuedTokens
from tracker_auth.users import repository
from tracker_auth.users.emails import TokenPurpose, email_key, link_token_digest, new_link_token
from tracker_auth.users.models import User
from tracker_auth.users.schemas import Preferences, Registration
from tracker_contracts import (
    UserDeleted,
    UserPasswordResetRequested,
    UserRegistered,
    UserUpdated,
    UserVerificationRequested,
    UserVerified,
)
from tracker_runtime.errors import APIError
from tracker_runtime.outbox import add_event
from tracker_runtime.unsubscribe import MailList

EMAIL_TAKEN = "This email is already taken"
TOO_MANY_REGISTRATIONS = "Too many registrations; try again later"
TOO_MANY_MAILS = "Too many mails asked for; try again later"
INVALID_VERIFICATION = "This confirmation link is not valid: it was used, replaced or has expired"
INVALID_RESET = "This password-reset link is not valid: it was used, replaced or has expired"
ALREADY_VERIFIED = "This address is already confirmed"
WRONG_PASSWORD = "Wrong password"
LIMITED_KINDS = ("login", "register", "reset", "verify")
"""Every kind of rate limit kept per target address: deleting an account forgets them."""


def _now() -> datetime:
    return datetime.now(UTC)


def _mail_limits(
    kind: str, key: str, client_ip: str | None, *, per_ip: int, per_address: int, ctx: AuthContext
) -> list[limits.Limit]:
    window = ctx.settings.limit_window
    checked = [limits.Limit(limits.address_key(kind, key), per_address, window)]
    if client_ip:
        checked.append(limits.Limit(limits.client_key(kind, client_ip), per_ip, window))
    return checked


async def register(
    db: AsyncSession, ctx: AuthContext, registration: Registration, client_ip: str | None
) -> tuple[User, IssuedTokens]:
    """Create the account, its ``user.registered`` event (which asks for the welcome mail
    with a link that confirms the address) and a first session, all in one transaction."""
    settings = ctx.settings
    await limits.reserve(
        ctx.database,
        _mail_limits(
            "register",
            email_key(registration.email),
            client_ip,
            per_ip=settings.registrations_per_ip,
            per_address=settings.registrations_per_address,
            ctx=ctx,
        ),
        now=_now(),
        message=TOO_MANY_REGISTRATIONS,
    )
    password_hash = await ctx.hasher.hash(registration.password)
    user = await repository.insert_unless_taken(
        db,
        email=registration.email,
        password_hash=password_hash,
        timezone=registration.timezone or settings.default_timezone,
    )
    if user is None:
        raise APIError(409, EMAIL_TAKEN, errors=[{"field": "email", "message": EMAIL_TAKEN}])
    token, expires_at = await _verification_link(db, ctx, user)
    await add_event(
        db,
        outbox,
        UserRegistered(
            user_id=user.id,
            email=user.email,
            timezone=user.timezone,
            token=token,
            expires_at=expires_at,
        ),
    )
    return user, await sessions.start(db, ctx, user)


async def _verification_link(
    db: AsyncSession, ctx: AuthContext, user: User
) -> tuple[str, datetime]:
    """A new link token that confirms the address, and when it expires (only its digest
    is stored)."""
    token, digest = new_link_token()
    expires_at = _now() + ctx.settings.verification_token_ttl
    await repository.add_token(
        db, user_id=user.id, purpose=TokenPurpose.VERIFY, digest=digest, expires_at=expires_at
    )
    return token, expires_at


async def send_verification(
    db: AsyncSession, ctx: AuthContext, user: User, client_ip: str | None
) -> None:
    """Mail a new link that confirms the address (the older ones keep working). The mail
    is counted on a connection of its own before ``db`` takes one."""
    if user.email_verified:
        raise APIError(409, ALREADY_VERIFIED)
    await limits.reserve(
        ctx.database,
        _mail_limits(
            "verify",
            user.email_key,
            client_ip,
            per_ip=ctx.settings.verification_mails_per_ip,
            per_address=ctx.settings.verification_mails_per_address,
            ctx=ctx,
        ),
        now=_now(),
        message=TOO_MANY_MAILS,
    )
    user = await _locked(db, user.id)
    if user.email_verified:
        raise APIError(409, ALREADY_VERIFIED)
    token, expires_at = await _verification_link(db, ctx, user)
    await add_event(
        db,
        outbox,
        UserVerificationRequested(
            user_id=user.id, email=user.email, token=token, expires_at=expires_at
        ),
    )


async def verify_email(db: AsyncSession, token: str) -> User:
    """Confirm the address with the token of a mailed link (single use)."""
    user_id = await repository.use_token(
        db, link_token_digest(token), TokenPurpose.VERIFY, now=_now()
    )
    if user_id is None:
        raise APIError(400, INVALID_VERIFICATION)
    user = await _locked(db, user_id)
    await _mark_verified(db, user)
    return user


async def _mark_verified(db: AsyncSession, user: User) -> None:
    if not user.email_verified:
        user.email_verified = True
        await db.flush()
        await add_event(db, outbox, verified_event(user))


async def _locked(db: AsyncSession, user_id: uuid.UUID) -> User:
    user = await repository.lock(db, user_id)
    if user is None:
        raise APIError(401, "This account no longer exists")
    return user


async def _unchanged(db: AsyncSession, checked: User) -> User:
    """``checked`` (whose password was just checked, on connections of its own) locked in
    ``db``, provided its password did not change in between."""
    user = await _locked(db, checked.id)
    if user.password_hash != checked.password_hash:
        raise APIError(403, WRONG_PASSWORD)
    return user


async def update_preferences(
    db: AsyncSession, user_id: uuid.UUID, preferences: Preferences
) -> User:
    """Apply the change and, when something changed, write ``user.updated`` with it."""
    user = await _locked(db, user_id)
    changes = preferences.model_dump(exclude_none=True)
    if any(getattr(user, field) != value for field, value in changes.items()):
        for field, value in changes.items():
            setattr(user, field, value)
        await db.flush()
        await add_event(db, outbox, updated_event(user))
    return user


async def change_password(
    db: AsyncSession,
    ctx: AuthContext,
    user: User,
    session_id: uuid.UUID,
    *,
    current_password: str,
    new_password: str,
    client_ip: str | None,
) -> None:
    """Replace the password when the current one is right; every other session ends (and
    every reset link it had mailed stops working), this one stays. Both passwords are
    hashed before ``db`` takes a connection."""
    await _check_password(ctx, user, current_password, client_ip)
    password_hash = await ctx.hasher.hash(new_password)
    user = await _unchanged(db, user)
    await repository.set_password_hash(db, user, password_hash)
    await repository.void_tokens(db, user.id, TokenPurpose.RESET, now=_now())
    await sessions.revoke_all(db, ctx, user.id, reason="password", keep=session_id)


async def _check_password(
    ctx: AuthContext, user: User, password: str, client_ip: str | None
) -> None:
    if not await sessions.password_matches(
        ctx,
        email=user.email,
        password_hash=user.password_hash,
        password=password,
        client_ip=client_ip,
    ):
        raise APIError(403, WRONG_PASSWORD)


async def request_password_reset(
    db: AsyncSession, ctx: AuthContext, email: str, client_ip: str | None
) -> None:
    """Mail a reset link if the address has an account; void the older links.

    The answer must not tell whether the address has an account, by its content nor by its
    time, so an unknown address goes through the same statements (a random user id, which
    the deferred foreign key lets through until commit) in a savepoint that is then rolled
    back."""
    key = email_key(email)
    settings = ctx.settings
    await limits.reserve(
        ctx.database,
        _mail_limits(
            "reset",
            key,
            client_ip,
            per_ip=settings.reset_mails_per_ip,
            per_address=settings.reset_mails_per_address,
            ctx=ctx,
        ),
        now=_now(),
        message=TOO_MANY_MAILS,
    )
    user = await repository.by_email_key(db, key)
    token, digest = new_link_token()
    now = _now()
    expires_at = now + settings.password_reset_token_ttl
    user_id = user.id if user else uuid.uuid4()
    async with db.begin_nested() as savepoint:
        await repository.void_tokens(db, user_id, TokenPurpose.RESET, now=now)
        await repository.add_token(
            db, user_id=user_id, purpose=TokenPurpose.RESET, digest=digest, expires_at=expires_at
        )
        await add_event(
            db,
            outbox,
            UserPasswordResetRequested(
                user_id=user_id,
                email=user.email if user else email,
                token=token,
                expires_at=expires_at,
            ),
        )
        if user is None:
            await savepoint.rollback()


async def reset_password(db: AsyncSession, ctx: AuthContext, token: str, new_password: str) -> None:
    """Set a new password from a mailed link: every session of the account ends, and the
    address counts as confirmed (the link reached it)."""
    password_hash = await ctx.hasher.hash(new_password)
    now = _now()
    user_id = await repository.use_token(db, link_token_digest(token), TokenPurpose.RESET, now=now)
    if user_id is None:
        raise APIError(400, INVALID_RESET)
    user = await _locked(db, user_id)
    await repository.set_password_hash(db, user, password_hash)
    await repository.void_tokens(db, user.id, TokenPurpose.RESET, now=now)
    await limits_repository.forget(db, [sessions.login_limit_key(user.email)])
    await sessions.revoke_all(db, ctx, user.id, reason="password reset")
    await _mark_verified(db, user)


async def delete_account(
    db: AsyncSession, ctx: AuthContext, user: User, password: str, client_ip: str | None
) -> None:
    """Delete the account and everything auth holds of it: sessions, refresh tokens,
    links, rate-limit counts kept for its address, and the outbox rows that name it
    (``session.revoked`` still pending excepted). ``user.deleted`` tells the others."""
    await _check_password(ctx, user, password, client_ip)
    user = await _unchanged(db, user)
    await repository.delete_events_about(db, outbox, user.id)
    await sessions.revoke_all(db, ctx, user.id, reason="deleted")
    await limits_repository.forget(
        db, [limits.address_key(kind, user.email_key) for kind in LIMITED_KINDS]
    )
    user_id = user.id  # read before the row is deleted
    await repository.delete_user(db, user_id)
    await add_event(db, outbox, UserDeleted(user_id=user_id))


async def unsubscribe(
    db: AsyncSession, user_id: uuid.UUID, mail_list: MailList = MailList.DIGEST
) -> User | None:
    """Turn the user's digest or reminders off (the one-click unsubscribe link); ``None``
    when the account is gone. Repeating it changes nothing and writes no event."""
    user = await repository.lock(db, user_id)
    if user is None:
        return None
    if mail_list is MailList.REMINDERS and user.reminders_enabled:
        user.reminders_enabled = False
    elif mail_list is MailList.DIGEST and user.digest_enabled:
        user.digest_enabled = False
    else:
        return user
    await db.flush()
    await add_event(db, outbox, updated_event(user))
    return user


def updated_event(user: User) -> UserUpdated:
    """``user.updated`` with the whole state a consumer keeps."""
    return UserUpdated(
        user_id=user.id,
        email=user.email,
        timezone=user.timezone,
        digest_enabled=user.digest_enabled,
        reminders_enabled=user.reminders_enabled,
        email_verified=user.email_verified,
    )


def verified_event(user: User) -> UserVerified:
    return UserVerified(
        user_id=user.id,
        email=user.email,
        timezone=user.timezone,
        digest_enabled=user.digest_enabled,
        reminders_enabled=user.reminders_enabled,
    )
