"""Sessions: logging in, rotating refresh tokens with reuse detection, logging out, and
forgetting sessions and failure counts that outlived their retention."""

import hashlib
import logging
import math
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from tracker_auth.config import Settings
from tracker_auth.context import AuthContext
from tracker_auth.db import outbox
from tracker_auth.sessions import repository
from tracker_auth.sessions.models import AuthSession
from tracker_auth.tokens import (
    IssuedTokens,
    access_token,
    new_refresh_token,
    refresh_token_digest,
)
from tracker_auth.users import repository as users
from tracker_auth.users.models import User
from tracker_contracts import SessionRevoked
from tracker_runtime.database import Database
from tracker_runtime.errors import APIError
from tracker_runtime.outbox import add_event

logger = logging.getLogger(__name__)

WRONG_CREDENTIALS = "Wrong email or password"
RETENTION_BATCH_SIZE = 500
"""Sessions (or failure counts) per delete: each batch is a short transaction, so a large
backlog never holds many locks for long. A session's refresh tokens go with it."""


def _now() -> datetime:
    return datetime.now(UTC)


async def start(db: AsyncSession, ctx: AuthContext, user: User) -> IssuedTokens:
    """Open a new session for ``user`` and mint its first pair of tokens."""
    now = _now()
    session = await repository.add_session(
        db, user_id=user.id, expires_at=now + ctx.settings.session_max_age
    )
    return await _mint(db, ctx, session, now)


async def _mint(
    db: AsyncSession, ctx: AuthContext, session: AuthSession, now: datetime
) -> IssuedTokens:
    refresh, digest = new_refresh_token()
    refresh_expires_at = min(now + ctx.settings.refresh_token_ttl, session.expires_at)
    await repository.add_refresh_token(
        db, session_id=session.id, digest=digest, expires_at=refresh_expires_at
    )
    token, access_expires_at = access_token(
        ctx.signing_key,
        ctx.settings,
        user_id=session.user_id,
        session_id=session.id,
        session_expires_at=session.expires_at,
        now=now,
    )
    return IssuedTokens(
        session_id=session.id,
        access_token=token,
        access_expires_at=access_expires_at,
        refresh_token=refresh,
        refresh_expires_at=refresh_expires_at,
    )


async def log_in(
    db: AsyncSession, ctx: AuthContext, *, email: str, password: str, client_ip: str | None
) -> tuple[User, IssuedTokens]:
    settings = ctx.settings
    now = _now()
    account_key = "account:" + hashlib.sha256(email.lower().encode()).hexdigest()
    limits = {account_key: settings.login_max_failures_per_account}
    if client_ip:
        limits["ip:" + client_ip] = settings.login_max_failures_per_ip

    counted = await repository.failures_in_window(
        db, list(limits), window=settings.login_failure_window, now=now
    )
    blocked_until = [
        row.window_started_at + settings.login_failure_window
        for key, row in counted.items()
        if row.failures >= limits[key]
    ]
    if blocked_until:
        retry_after = max(1, math.ceil((max(blocked_until) - now).total_seconds()))
        logger.warning("login throttled", extra={"retry_after": retry_after})
        raise APIError(
            429,
            "Too many failed attempts; try again later",
            headers={"Retry-After": str(retry_after)},
        )

    user = await users.by_email(db, email)
    if not await ctx.hasher.verify(password, user.password_hash if user else None):
        await repository.count_failure(
            db, list(limits), window=settings.login_failure_window, now=now
        )
        raise APIError(401, WRONG_CREDENTIALS, commit=True)
    assert user is not None

    await repository.forget_failures(db, account_key)
    if ctx.hasher.needs_rehash(user.password_hash):
        await users.set_password_hash(db, user, await ctx.hasher.hash(password))
    return user, await start(db, ctx, user)


async def refresh(db: AsyncSession, ctx: AuthContext, presented: str) -> tuple[User, IssuedTokens]:
    """Exchange a refresh token for a new pair. A token presented a second time means it
    leaked: the whole session (every token descended from the same login) is revoked."""
    now = _now()
    found = await repository.refresh_token_for_update(db, refresh_token_digest(presented))
    if found is None:
        raise APIError(401, "Unknown refresh token")
    token, session, user = found
    if session.revoked_at is not None:
        raise APIError(401, "This session has ended; log in again")
    if token.rotated_at is not None:
        logger.warning("refresh token reused; revoking its session", extra={"sid": session.id})
        await revoke(db, ctx, session.id, reason="reuse", now=now)
        raise APIError(401, "This refresh token was already used; log in again", commit=True)
    if token.expires_at <= now or session.expires_at <= now:
        raise APIError(401, "The session expired; log in again")

    token.rotated_at = now
    return user, await _mint(db, ctx, session, now)


async def revoke(
    db: AsyncSession, ctx: AuthContext, session_id: uuid.UUID, *, reason: str, now: datetime
) -> None:
    """End a session and tell the other services, through the outbox, to refuse its tokens."""
    session = await repository.revoke_session(db, session_id, reason=reason, now=now)
    if session is None:
        return
    last_access_expiry = min(now + ctx.settings.access_token_ttl, session.expires_at)
    await add_event(
        db,
        outbox,
        SessionRevoked(
            session_id=session.id, user_id=session.user_id, expires_at=last_access_expiry
        ),
    )


async def log_out(
    db: AsyncSession,
    ctx: AuthContext,
    *,
    session_id: uuid.UUID | None,
    refresh_token: str | None,
) -> None:
    """End the session named by the access token, or else by the refresh cookie. Logging
    out without either is not an error: the client ends up logged out all the same."""
    if session_id is None and refresh_token:
        session = await repository.session_by_refresh_digest(
            db, refresh_token_digest(refresh_token)
        )
        session_id = session.id if session else None
    if session_id is not None:
        await revoke(db, ctx, session_id, reason="logout", now=_now())


@dataclass(frozen=True, slots=True)
class Forgotten:
    sessions: int
    throttles: int


async def forget_expired(
    database: Database, settings: Settings, *, batch_size: int = RETENTION_BATCH_SIZE
) -> Forgotten:
    """Delete sessions that ended (expired, and revoked if they were) more than
    ``AUTH_SESSION_RETENTION`` ago, with their refresh tokens, and the failure counts whose
    window ended. A live session keeps every rotated token: reuse detection needs them.
    Idempotent, so any number of replicas may run it at once."""
    now = _now()
    ended_before = now - settings.session_retention
    started_before = now - settings.login_failure_window

    async def sessions(db: AsyncSession) -> int:
        return await repository.delete_ended_sessions(
            db, ended_before=ended_before, limit=batch_size
        )

    async def throttles(db: AsyncSession) -> int:
        return await repository.delete_ended_throttles(
            db, started_before=started_before, limit=batch_size
        )

    forgotten = Forgotten(
        sessions=await _in_batches(database, sessions, batch_size),
        throttles=await _in_batches(database, throttles, batch_size),
    )
    if forgotten.sessions or forgotten.throttles:
        logger.info(
            "forgot %d ended sessions and %d ended login-throttle windows",
            forgotten.sessions,
            forgotten.throttles,
        )
    return forgotten


async def _in_batches(
    database: Database, delete_batch: Callable[[AsyncSession], Awaitable[int]], batch_size: int
) -> int:
    """Run ``delete_batch`` in one transaction after another until a batch comes up short."""
    total = 0
    while True:
        async with database.sessions.begin() as db:
            deleted = await delete_batch(db)
        total += deleted
        if deleted < batch_size:
            return total
