"""Fixtures: a migrated test database emptied before every test, a real SMTP server on a
free port, a delivery sender on both, and the notifier's queues purged before a worker starts.

RabbitMQ is the real broker, in the test virtual host the repository's root conftest picks
(``RABBITMQ_URL``). Workers run as subprocesses (see ``support.WorkerProcess``).
"""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from devsupport.database import import_models, truncate_statement
from tracker_contracts.messaging import NOTIFIER_EVENTS, NOTIFIER_TASKS, NOTIFIER_TICKS
from tracker_notifier.config import Settings
from tracker_notifier.db import Base, Database, new_engine
from tracker_notifier.deliveries.service import DeliverySender
from tracker_notifier.mail.smtp import Mailer, SmtpConfig
from tracker_notifier.prestart import MIGRATIONS
from tracker_runtime.migrations import prepare

from .support import SmtpServer, WorkerProcess, purge, queue_consumers

TEST_DATABASE_URL = os.environ["NOTIFIER_TEST_DATABASE_URL"]
import_models("tracker_notifier")
EMPTY_TABLES = truncate_statement(Base.metadata)
"""Referenced tables first: the order the worker locks them (processed_events, recipients,
deliveries, digest_claims), so that emptying them never deadlocks with it."""
PUBLIC_URL = "https://tracker.example.org"
MAIL_FROM = "task-tracker <no-reply@tracker.example.org>"


def make_settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "environment": "test",
        "database_url": TEST_DATABASE_URL,
        "rabbitmq_url": os.environ["RABBITMQ_URL"],
        "public_url": PUBLIC_URL,
        "mail_from": MAIL_FROM,
        **overrides,
    }
    return Settings.model_validate(values)


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    prepare(MIGRATIONS, TEST_DATABASE_URL)
    test_engine = new_engine(TEST_DATABASE_URL)
    yield test_engine
    test_engine.dispose()


@pytest.fixture
def database(engine: Engine) -> Database:
    """The test database, empty. Ids are not restarted: a task left over from an earlier
    run must never find a new row under an old id."""
    with engine.begin() as connection:
        connection.exec_driver_sql(EMPTY_TABLES)
    return Database(engine)


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.release()
    server.stop()


@pytest.fixture
def smtp(smtp_server: SmtpServer) -> Iterator[SmtpServer]:
    """The SMTP server, well-behaved and with no mail, for one test."""
    smtp_server.catcher.reset()
    yield smtp_server
    smtp_server.release()


@pytest.fixture
def sender(database: Database, smtp: SmtpServer) -> Iterator[DeliverySender]:
    """A sender on the test database and SMTP server, giving up after three attempts."""
    settings = make_settings(smtp_port=smtp.port, max_send_attempts=3)
    mailer = Mailer(SmtpConfig.from_settings(settings))
    yield DeliverySender(database, mailer, settings)
    mailer.close()


def worker_environment(smtp_server: SmtpServer) -> dict[str, str]:
    return {
        "ENVIRONMENT": "test",
        "LOG_LEVEL": "INFO",
        "LOG_JSON": "false",
        "NOTIFIER_DATABASE_URL": TEST_DATABASE_URL,
        "RABBITMQ_URL": os.environ["RABBITMQ_URL"],
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_server.port),
        "SMTP_USERNAME": "",
        "SMTP_SECURITY": "none",
        "NOTIFIER_SMTP_TIMEOUT": "20",
        "MAIL_FROM": MAIL_FROM,
        "PUBLIC_URL": PUBLIC_URL,
        "DEFAULT_TIMEZONE": "UTC",
        "NOTIFIER_RETRY_BASE_DELAY": "1",
        "NOTIFIER_RETRY_MAX_DELAY": "2",
        "NOTIFIER_MAX_SEND_ATTEMPTS": "5",
    }


def fresh_queues() -> None:
    """Empty the notifier's queues in the test virtual host (declared by provisioning),
    refusing to run beside another notifier worker there: it would take the events these
    tests publish."""
    consumers = queue_consumers(NOTIFIER_EVENTS.name)
    if consumers:
        pytest.fail(
            f"{consumers} consumer(s) on {NOTIFIER_EVENTS.name} in {os.environ['RABBITMQ_URL']}: "
            "stop the other notifier worker first"
        )
    purge(
        NOTIFIER_EVENTS.name,
        NOTIFIER_EVENTS.dead_letter_queue,
        *(
            name
            for queue in (NOTIFIER_TASKS, NOTIFIER_TICKS)
            for name in (queue.name, queue.dead_letter_queue)
        ),
    )


class Workers:
    """Starts worker processes and, whatever happens, stops every one of them."""

    def __init__(self, smtp_server: SmtpServer, directory: Path) -> None:
        self._environment = worker_environment(smtp_server)
        self._directory = directory
        self._started: list[WorkerProcess] = []

    def start(self) -> WorkerProcess:
        worker = WorkerProcess(
            self._environment, self._directory / f"worker{len(self._started)}.log"
        )
        self._started.append(worker)
        worker.start()
        return worker

    def stop_all(self) -> None:
        for worker in self._started:
            worker.stop()


@pytest.fixture(scope="module")
def worker(
    engine: Engine, smtp_server: SmtpServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcess]:
    """One worker for every test of a module."""
    fresh_queues()
    workers = Workers(smtp_server, tmp_path_factory.mktemp("worker"))
    try:
        yield workers.start()
    finally:
        workers.stop_all()


@pytest.fixture
def workers(engine: Engine, smtp_server: SmtpServer, tmp_path: Path) -> Iterator[Workers]:
    """Workers a test starts (and kills) itself."""
    fresh_queues()
    workers = Workers(smtp_server, tmp_path)
    try:
        yield workers
    finally:
        workers.stop_all()
