"""What a worker process needs to run tasks: settings, a database pool, an SMTP mailer.

Created lazily in the process that runs the tasks (a prefork child), never inherited across
``fork``: a connection pool or an SMTP socket shared by two processes corrupts both.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from tracker_notifier.config import Settings, get_settings
from tracker_notifier.db import Database, new_engine
from tracker_notifier.deliveries.service import DeliverySender
from tracker_notifier.digest.summaries import SummariesClient
from tracker_notifier.mail.smtp import Mailer, SmtpConfig
from tracker_runtime.logging import request_id_var


@dataclass(frozen=True)
class NotifierContext:
    settings: Settings
    database: Database
    mailer: Mailer
    summaries: SummariesClient
    pid: int

    @classmethod
    def create(cls, settings: Settings) -> "NotifierContext":
        return cls(
            settings=settings,
            database=Database(
                new_engine(settings.database_url, pool_size=settings.database_pool_size)
            ),
            mailer=Mailer(SmtpConfig.from_settings(settings)),
            summaries=SummariesClient(settings),
            pid=os.getpid(),
        )

    @property
    def sender(self) -> DeliverySender:
        return DeliverySender(self.database, self.mailer, self.settings)

    def close(self) -> None:
        self.mailer.close()
        self.summaries.close()
        self.database.dispose()


_current: NotifierContext | None = None


def get_context() -> NotifierContext:
    global _current  # noqa: PLW0603  (one context per process, by design)
    if _current is None or _current.pid != os.getpid():
        _current = NotifierContext.create(get_settings())
    return _current


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
