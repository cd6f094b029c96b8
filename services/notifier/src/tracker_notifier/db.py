"""The notifier's tables share one metadata; the worker talks to them synchronously
(Celery tasks are synchronous) through SQLAlchemy 2 and psycopg 3."""

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from tracker_runtime.database import new_metadata, ping_when_rested


class Base(DeclarativeBase):
    metadata = new_metadata()


def new_engine(url: str, *, pool_size: int = 2) -> Engine:
    """An engine for one worker process (never share one across ``fork``). A connection
    that rested is tested before use (``ping_when_rested``)."""
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=10,
        connect_args={"connect_timeout": 5},
        # A statement's parameters (a mail's payload, with its link's token) never reach
        # an error message, and so never a log line.
        hide_parameters=True,
    )
    ping_when_rested(engine)
    return engine


class Database:
    """One process's connection pool and the one place that commits."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session committed when the block ends, rolled back when it raises."""
        with self._sessions.begin() as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
