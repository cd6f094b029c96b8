"""Ended sessions, expired links and finished rate-limit windows are forgotten after their
retention."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy import func, select, text

from devsupport.accounts import Account
from tracker_auth.config import Settings
from tracker_auth.limits.models import RateLimit
from tracker_auth.main import create_app
from tracker_auth.sessions.models import AuthSession, RefreshToken
from tracker_auth.sessions.service import forget_expired
from tracker_auth.users.emails import TokenPurpose, link_token_digest
from tracker_auth.users.models import AccountToken
from tracker_runtime.database import Database

from ..conftest import make_settings

RETENTION = timedelta(days=30)  # the default AUTH_SESSION_RETENTION


async def add_session(
    database: Database,
    user_id: str,
    *,
    expires_at: datetime,
    revoked_at: datetime | None = None,
    refresh_tokens: int = 2,
) -> uuid.UUID:
    session_id = uuid.uuid4()
    async with database.sessions.begin() as db:
        db.add(
            AuthSession(
                id=session_id,
                user_id=uuid.UUID(user_id),
                expires_at=expires_at,
                revoked_at=revoked_at,
                revoked_reason="logout" if revoked_at else None,
            )
        )
        await db.flush()
        for _ in range(refresh_tokens):
            db.add(
                RefreshToken(
                    session_id=session_id,
                    token_hash=uuid.uuid4().bytes * 2,
                    expires_at=expires_at,
                    rotated_at=expires_at - timedelta(days=1),
                )
            )
    return session_id


async def session_ids(database: Database) -> set[uuid.UUID]:
    async with database.sessions() as db:
        return set(await db.scalars(select(AuthSession.id)))


async def refresh_tokens_of(database: Database, session_id: uuid.UUID) -> int:
    async with database.sessions() as db:
        query = select(func.count()).where(RefreshToken.session_id == session_id)
        return int(await db.scalar(query) or 0)


async def test_sessions_are_forgotten_a_retention_after_they_ended(
    app: FastAPI, settings: Settings, account: Account
) -> None:
    database: Database = app.state.database
    now = datetime.now(UTC)
    long_ago = now - RETENTION - timedelta(hours=1)
    recently = now - RETENTION + timedelta(hours=1)
    [live] = await session_ids(database)  # the account's own session, with a token
    expired_long_ago = await add_session(database, account.id, expires_at=long_ago)
    expired_recently = await add_session(database, account.id, expires_at=recently)
    revoked_long_ago = await add_session(
        database, account.id, expires_at=long_ago, revoked_at=long_ago - timedelta(days=1)
    )
    # Revoked long ago but expiring later: the later of the two instants counts.
    revoked_but_not_expired_long_ago = await add_session(
        database, account.id, expires_at=recently, revoked_at=long_ago
    )
    rotated_while_live = await add_session(
        database, account.id, expires_at=now + timedelta(days=3), refresh_tokens=5
    )

    forgotten = await forget_expired(database, settings)

    assert forgotten.sessions == 2
    assert await session_ids(database) == {
        live,
        expired_recently,
        revoked_but_not_expired_long_ago,
        rotated_while_live,
    }
    # Refresh tokens go with their session, and a live session keeps its rotated ones
    # (they are how a replayed token is recognised).
    assert await refresh_tokens_of(database, expired_long_ago) == 0
    assert await refresh_tokens_of(database, revoked_long_ago) == 0
    assert await refresh_tokens_of(database, rotated_while_live) == 5
    assert await refresh_tokens_of(database, live) == 1


async def test_large_backlogs_are_deleted_in_bounded_batches(
    app: FastAPI, settings: Settings, account: Account
) -> None:
    database: Database = app.state.database
    long_ago = datetime.now(UTC) - RETENTION - timedelta(days=1)
    for _ in range(7):
        await add_session(database, account.id, expires_at=long_ago, refresh_tokens=0)

    forgotten = await forget_expired(database, settings, batch_size=3)

    assert forgotten.sessions == 7
    assert len(await session_ids(database)) == 1


async def test_rate_limits_are_forgotten_when_their_longest_window_ended(
    app: FastAPI, settings: Settings
) -> None:
    database: Database = app.state.database
    now = datetime.now(UTC)
    window = max(settings.login_failure_window, settings.limit_window)
    async with database.sessions.begin() as db:
        db.add(RateLimit(key="ended", hits=3, window_started_at=now - window * 2))
        db.add(RateLimit(key="open", hits=3, window_started_at=now - window / 2))

    forgotten = await forget_expired(database, settings)

    assert forgotten.rate_limits == 1
    async with database.sessions() as db:
        assert set(await db.scalars(select(RateLimit.key))) == {"open"}


async def test_links_are_forgotten_once_expired_longer_than_their_retention(
    app: FastAPI, settings: Settings, account: Account
) -> None:
    database: Database = app.state.database
    now = datetime.now(UTC)
    retention = settings.account_token_retention
    async with database.sessions.begin() as db:
        for name, expires_at in (
            ("long-expired", now - retention - timedelta(minutes=1)),
            ("just-expired", now - retention + timedelta(minutes=1)),
        ):
            db.add(
                AccountToken(
                    user_id=uuid.UUID(account.id),
                    purpose=TokenPurpose.RESET,
                    token_digest=link_token_digest(name),
                    expires_at=expires_at,
                )
            )

    forgotten = await forget_expired(database, settings)

    assert forgotten.account_tokens == 1
    async with database.sessions() as db:
        digests = set(await db.scalars(select(AccountToken.token_digest)))
    assert link_token_digest("long-expired") not in digests
    assert link_token_digest("just-expired") in digests
    assert len(digests) == 2  # and the welcome mail's link, still valid


async def test_the_service_applies_the_retention_by_itself(
    app: FastAPI, keys_dir: Path, account: Account
) -> None:
    database: Database = app.state.database
    ended = await add_session(
        database, account.id, expires_at=datetime.now(UTC) - timedelta(days=60)
    )
    settings = make_settings(keys_dir, cleanup_interval=timedelta(milliseconds=50))

    async with LifespanManager(create_app(settings)):
        for _ in range(100):
            if ended not in await session_ids(database):
                break
            await asyncio.sleep(0.05)

    assert ended not in await session_ids(database)


def test_retention_settings_are_positive_durations(tmp_path: Path) -> None:
    for field in ("session_retention", "cleanup_interval"):
        with pytest.raises(ValidationError, match="greater than 0"):
            make_settings(tmp_path, **{field: timedelta(0)})


async def test_sent_mail_requests_with_a_link_are_forgotten(
    app: FastAPI, settings: Settings, account: Account
) -> None:
    """The token of a link is in the event the notifier needs; once the relay sent it, the
    retention deletes the row, so the database keeps no usable token."""
    database: Database = app.state.database
    async with database.engine.begin() as connection:  # sent, if the relay has not yet
        await connection.execute(text("UPDATE outbox SET published_at = now()"))

    forgotten = await forget_expired(database, settings)

    assert forgotten.sent_links == 1
    async with database.engine.connect() as connection:
        left = (await connection.execute(text("SELECT event_type FROM outbox"))).scalars()
        assert list(left) == []  # user.registered carried the welcome mail's link
