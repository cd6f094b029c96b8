"""Sessions: logging in, rotating refresh tokens with reuse detection, logging out, and
forgetting what outlived its retention (sessions, links, rate-limit counts)."""

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import astuple, dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from tracker_auth.config import Settings
from tracker_auth.context import AuthContext
from tracker_auth.db import outbox
from tracker_auth.limits import repository as limits_repository
from tracker_auth.limits import service as limits
from tracker_auth.sessions import repository
from tracker_auth.sessions.models import AuthSession, RefreshToken
from tracker_auth.tokens import (
    IssuedTokens,
    access_token,
    new_refresh_token,
    refresh_token_digest,
    seal_successor,
    unseal_successor,
)
from tracker_auth.users import repository as users
from tracker_auth.users.emails import email_key
from tracker_auth.users.models import User
from tracker_contracts import SessionRevoked
from tracker_runtime.database import Database
from tracker_runtime.errors import APIError
from tracker_runtime.outbox import add_event

logger = logging.getLogger(__name__)

WRONG_CREDENTIALS = "Wrong email or password"
RETENTION_BATCH_SIZE = 500
"""Rows per delete: each batch is a short transaction, so a large
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
    return _with_access_token(ctx, session, refresh, refresh_expires_at, now)


def _with_access_token(
    ctx: AuthContext,
    session: AuthSession,
    refresh: str,
    refresh_expires_at: datetime,
    now: datetime,
) -> IssuedTokens:
    """A new access token of ``session`` beside its refresh token ``refresh``."""
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
    """Check the credentials and start a session. No database connection is held while the
    password is hashed: the account is read on a connection of its own, given back at
    once, and the request's ``db`` is first used once the password matched. A storm of
    logins waits for the hashing threads, never for the pool, and leaves it to others."""
    async with ctx.database.sessions() as lookup:
        found = await users.by_email_key(lookup, email_key(email))
    if not await password_matches(
        ctx,
        email=email,
        password_hash=found.password_hash if found else None,
        password=password,
        client_ip=client_ip,
    ):
        raise APIError(401, WRONG_CREDENTIALS)
    assert found is not None
    user = await db.merge(found, load=False)
    if ctx.hasher.needs_rehash(user.password_hash):
        await users.set_password_hash(db, user, await ctx.hasher.hash(password))
    return user, await start(db, ctx, user)


def login_limit_key(email: str) -> str:
    return limits.address_key("login", email_key(email))


async def password_matches(
    ctx: AuthContext,
    *,
    email: str,
    password_hash: str | None,
    password: str,
    client_ip: str | None,
) -> bool:
    """Whether ``password`` is the account's, under the failed-login limits (per account
    and per client address). The attempt is counted as a failure *before* the password is
    hashed (``limits.reserve``), so a burst of concurrent guesses is counted one by one and
    the ones past the limit are refused with a 429; a success gives its count back.
    ``password_hash`` ``None`` (no such account) costs the same and answers ``False``.

    It uses connections of its own, each given back at once, and holds none while the
    password is hashed: a caller that takes its request's connection only afterwards never
    waits for a second connection while it holds a first (a storm of logins would hold
    the whole pool so, each waiting for another)."""
    settings = ctx.settings
    window = settings.login_failure_window
    account_limit = login_limit_key(email)
    checked = [limits.Limit(account_limit, settings.login_max_failures_per_account, window)]
    client_limit = limits.client_key("login", client_ip) if client_ip else None
    if client_limit:
        checked.append(limits.Limit(client_limit, settings.login_max_failures_per_ip, window))
    reservation = await limits.reserve(
        ctx.database, checked, now=_now(), message="Too many failed attempts; try again later"
    )
    if not await ctx.hasher.verify(password, password_hash):
        return False
    await limits.release(
        ctx.database,
        reservation,
        give_back=[client_limit] if client_limit else [],
        forget=[account_limit],
    )
    return True


async def refresh(db: AsyncSession, ctx: AuthContext, presented: str) -> tuple[User, IssuedTokens]:
    """Exchange a refresh token for a new pair. A token presented a second time means it
    leaked: the whole session (every token descended from the same login) is revoked.

    Except within ``AUTH_REFRESH_GRACE`` of its rotation, while its successor is still the
    current token: then it is another tab of the same browser that sent the same cookie
    at the same time, and it gets the same successor (and a fresh access token)."""
    now = _now()
    found = await repository.refresh_token_for_update(db, refresh_token_digest(presented))
    if found is None:
        raise APIError(401, "Unknown refresh token")
    token, session, user = found
    if session.revoked_at is not None:
        raise APIError(401, "This session has ended; log in again")
    if token.rotated_at is not None:
        again = await _same_successor(
            db, ctx, presented=presented, token=token, session=session, now=now
        )
        if again is not None:
            return user, again
        logger.warning("refresh token reused; revoking its session", extra={"sid": session.id})
        await revoke(db, ctx, session.id, reason="reuse", now=now)
        raise APIError(401, "This refresh token was already used; log in again", commit=True)
    if token.expires_at <= now or session.expires_at <= now:
        raise APIError(401, "The session expired; log in again")

    token.rotated_at = now
    tokens = await _mint(db, ctx, session, now)
    token.successor_sealed = seal_successor(presented, tokens.refresh_token)
    return user, tokens


async def _same_successor(
    db: AsyncSession,
    ctx: AuthContext,
    *,
    presented: str,
    token: RefreshToken,
    session: AuthSession,
    now: datetime,
) -> IssuedTokens | None:
    """The successor of a token rotated within the grace, if it is still the current one."""
    if (
        token.rotated_at is None
        or token.successor_sealed is None
        or now - token.rotated_at > ctx.settings.refresh_grace
        or session.expires_at <= now
    ):
        return None
    successor, digest = unseal_successor(presented, token.successor_sealed)
    found = await repository.refresh_token_for_update(db, digest)
    if found is None:
        return None
    current = found[0]
    if current.rotated_at is not None or current.expires_at <= now:
        return None
    return _with_access_token(ctx, session, successor, current.expires_at, now)


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


async def revoke_all(
    db: AsyncSession,
    ctx: AuthContext,
    user_id: uuid.UUID,
    *,
    reason: str,
    keep: uuid.UUID | None = None,
) -> int:
    """End every live session of the user but ``keep``, each with its ``session.revoked``;
    return how many ended."""
    now = _now()
    ended = 0
    for session_id in await repository.live_session_ids(db, user_id, now=now):
        if session_id != keep:
            await revoke(db, ctx, session_id, reason=reason, now=now)
            ended += 1
    return ended


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
    rate_limits: int
    account_tokens: int
    sent_links: int


def _longest_limit_window(settings: Settings) -> timedelta:
    return max(settings.login_failure_window, settings.limit_window)


async def forget_expired(
    database: Database, settings: Settings, *, batch_size: int = RETENTION_BATCH_SIZE
) -> Forgotten:
    """Delete sessions that ended (expired, and revoked if they were) more than
    ``AUTH_SESSION_RETENTION`` ago, with their refresh tokens; confirmation and reset
    links expired more than ``AUTH_ACCOUNT_TOKEN_RETENTION`` ago; and the rate-limit
    counts whose window ended. A live session keeps every rotated token: reuse detection
    needs them. Sent outbox rows that carry a link's token go too, so the database keeps no
    usable token. Idempotent, so any number of replicas may run it at once."""
    now = _now()
    ended_before = now - settings.session_retention
    started_before = now - _longest_limit_window(settings)
    expired_before = now - settings.account_token_retention

    async def sessions(db: AsyncSession) -> int:
        return await repository.delete_ended_sessions(
            db, ended_before=ended_before, limit=batch_size
        )

    async def rate_limits(db: AsyncSession) -> int:
        return await limits_repository.delete_ended(
            db, started_before=started_before, limit=batch_size
        )

    async def account_tokens(db: AsyncSession) -> int:
        return await users.delete_expired_tokens(
            db, expired_before=expired_before, limit=batch_size
        )

    async def sent_links(db: AsyncSession) -> int:
        return await users.delete_sent_link_events(db, outbox, limit=batch_size)

    forgotten = Forgotten(
        sessions=await _in_batches(database, sessions, batch_size),
        rate_limits=await _in_batches(database, rate_limits, batch_size),
        account_tokens=await _in_batches(database, account_tokens, batch_size),
        sent_links=await _in_batches(database, sent_links, batch_size),
    )
    if any(astuple(forgotten)):
        logger.info(
            "forgot %d ended sessions, %d ended rate-limit windows, %d expired links and "
            "%d sent mail requests with links",
            *astuple(forgotten),
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
