"""What a worker process needs to run tasks: settings, a database pool, its SMTP mailers.

Created in the process that runs the tasks (a prefork child, as it starts: :func:`warm_up`;
else on first use), never inherited across ``fork``: a connection pool or an SMTP socket
shared by two processes corrupts both.
"""

import contextvars
import logging
import os
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from threading import Thread
from typing import TypeVar

from sqlalchemy.exc import SQLAlchemyError

from tracker_notifier.config import Settings, get_settings
from tracker_notifier.db import Database, new_engine
from tracker_notifier.deliveries.service import DeliverySender
from tracker_notifier.digest.summaries import SummariesClient
from tracker_notifier.mail.smtp import Mailer, SmtpConfig
from tracker_runtime.logging import request_id_var

T = TypeVar("T")

logger = logging.getLogger("tracker.notifier.context")


@dataclass(frozen=True)
class NotifierContext:
    settings: Settings
    database: Database
    mailers: tuple[Mailer, ...]
    """One per SMTP connection (``NOTIFIER_SMTP_CONNECTIONS``); each is used by one thread
    at a time."""
    summaries: SummariesClient
    threads: ThreadPoolExecutor
    """Runs the senders side by side, one thread per mailer."""
    pid: int

    @classmethod
    def create(cls, settings: Settings) -> "NotifierContext":
        connections = settings.smtp_connections
        # Every sender holds a database connection while it sends.
        pool_size = max(settings.database_pool_size, connections)
        return cls(
            settings=settings,
            database=Database(new_engine(settings.database_url, pool_size=pool_size)),
            mailers=tuple(Mailer(SmtpConfig.from_settings(settings)) for _ in range(connections)),
            summaries=SummariesClient(settings),
            threads=ThreadPoolExecutor(connections, thread_name_prefix="sender"),
            pid=os.getpid(),
        )

    @property
    def sender(self) -> DeliverySender:
        return DeliverySender(self.database, self.mailers[0], self.settings)

    @property
    def senders(self) -> list[DeliverySender]:
        """One sender per SMTP connection."""
        return [DeliverySender(self.database, mailer, self.settings) for mailer in self.mailers]

    def in_thread(self, call: Callable[[], T]) -> "Future[T]":
        """``call`` on one of the sender threads, with the caller's context (the request
        id of its log lines)."""
        return self.threads.submit(contextvars.copy_context().run, call)

    def close(self) -> None:
        self.threads.shutdown()
        for mailer in self.mailers:
            mailer.close()
        self.summaries.close()
        self.database.dispose()


_current: NotifierContext | None = None


def get_context() -> NotifierContext:
    global _current  # noqa: PLW0603  (one context per process, by design)
    if _current is None or _current.pid != os.getpid():
        _current = NotifierContext.create(get_settings())
    return _current


def warm_up() -> None:
    """Ready this process before its first task: its context is created here (the
    summaries client loads the TLS certificates, a tenth of a second) and a thread opens
    its first database connection, so that a mail in the first seconds after a start is
    as quick as any. A database that is away now is tried again by the first task."""
    context = get_context()
    Thread(target=_open_a_connection, args=(context,), name="warm-up", daemon=True).start()


def _open_a_connection(context: NotifierContext) -> None:
    try:
        with context.database.engine.connect():
            pass
    except SQLAlchemyError as error:
        logger.warning("no database connection at start; the first task tries again: %s", error)


def close_context() -> None:
    global _current  # noqa: PLW0603
    if _current is not None and _current.pid == os.getpid():
        _current.close()
    _current = None


@contextmanager
def request_context(request_id: object) -> Iterator[None]:
    """Every log line inside the block carries ``request_id`` (the ``X-Request-ID`` of the
    request that caused the event), so one request can be followed to its mail."""
    token = request_id_var.set(str(request_id) if request_id else None)
    try:
        yield
    finally:
        request_id_var.reset(token)
