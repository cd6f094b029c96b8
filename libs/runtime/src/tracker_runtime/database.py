"""Async SQLAlchemy engine and sessions, and the shared naming of constraints.

The request's session of an HTTP service (the one place that commits) is in
``tracker_runtime.web``: this module carries no web framework, so the worker's image does
not either."""

from sqlalchemy import MetaData, make_url, text
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


class Database:
    """A service's connection pool and session factory."""

    def __init__(self, url: str, *, pool_size: int = 10, echo: bool = False) -> None:
        self.engine: AsyncEngine = create_async_engine(
            url,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_pre_ping=True,
            pool_timeout=5,
            echo=echo,
            connect_args={"timeout": 5, "command_timeout": 30},
            # A statement's parameters (an outbox row with a link's token, say) never reach
            # an error message, and so never a log line.
            hide_parameters=True,
        )
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    async def ping(self) -> None:
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()
