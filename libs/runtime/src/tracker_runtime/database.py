"""Async SQLAlchemy engine and sessions, and the shared naming of constraints.

The request's session of an HTTP service (the one place that commits) is in
``tracker_runtime.web``: this module carries no web framework, so the worker's image does
not either."""

import time
from typing import Any

from sqlalchemy import Engine, MetaData, event, make_url, text
from sqlalchemy.exc import InvalidatePoolError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    async_sessionmaker,
    create_async_engine,
)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def libpq_dsn(url: str, database: str | None = None) -> str:
    """A SQLAlchemy URL as a plain ``postgresql://`` DSN (for asyncpg's own connections)."""
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


def new_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING_CONVENTION)


PING_AFTER_IDLE_S = 1.0
"""A pooled connection that rested longer than this is tested before it is handed out."""
_RESTING_SINCE = "tracker_resting_since"


def ping_when_rested(engine: Engine) -> None:
    """Test a pooled connection of ``engine`` (an async engine's ``sync_engine`` too)
    before it is handed out only when it rested longer than :data:`PING_AFTER_IDLE_S`; a
    failed ping renews every pooled connection. SQLAlchemy's ``pool_pre_ping`` tests every
    checkout instead: a round trip (three, with asyncpg) per use of a connection in constant
    use, which a database that went away fails on its first statement anyway."""
    pool, dialect = engine.pool, engine.dialect

    @event.listens_for(pool, "checkin")
    def _resting(_connection: Any, record: Any) -> None:
        record.info[_RESTING_SINCE] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def _ping_if_rested(connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get(_RESTING_SINCE)
        if since is None or time.monotonic() - since < PING_AFTER_IDLE_S:
            return  # a new connection, or one in constant use
        try:
            dialect.do_ping(connection)
        except Exception as error:
            raise InvalidatePoolError(f"a pooled connection failed its ping: {error}") from error


class Database:
    """A service's connection pool and session factory.

    The pool keeps ``pool_size`` connections and opens no more: a request beyond them
    waits for one (``pool_timeout``, then a 503), where opening extra connections under
    load and closing them as soon as the load dips cost PostgreSQL a backend start each
    time. A connection that rested more than :data:`PING_AFTER_IDLE_S` is pinged before
    use, and a failed ping renews every pooled connection (the database restarted, or
    ended them); one in constant use is not, which saves three round trips per request
    under load. A connection that breaks while in use fails its request with a 503 and
    renews the pool the same way.
    """

    def __init__(self, url: str, *, pool_size: int = 10, echo: bool = False) -> None:
        self.engine: AsyncEngine = create_async_engine(
            url,
            pool_size=pool_size,
            max_overflow=0,
            pool_timeout=5,
            echo=echo,
            connect_args={"timeout": 5, "command_timeout": 30},
            # A statement's parameters (an outbox row with a link's token, say) never reach
            # an error message, and so never a log line.
            hide_parameters=True,
        )
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self.reads = async_sessionmaker(
            self.engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False
        )
        """Sessions that only read: each statement runs on its own, without the BEGIN and
        COMMIT around them (two round trips fewer). Under READ COMMITTED every statement
        takes its own snapshot anyway, so a reader loses no consistency."""
        ping_when_rested(self.engine.sync_engine)

    async def ping(self) -> None:
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()
