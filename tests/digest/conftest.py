"""Digest ticks at chosen instants (an injected clock), against the stack's real auth and
tasks services, with a notifier database of their own: the ticks claim and store the
digests, and the tests read what would be sent."""

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import psycopg
import pytest
from sqlalchemy import text

from devsupport.database import import_models, truncate_statement
from tests.conftest import TASKS_DATABASE, Stack
from tests.support import run
from tracker_notifier.config import Settings
from tracker_notifier.db import Base, Database, new_engine
from tracker_notifier.digest.service import DigestRun, TickReport
from tracker_notifier.digest.summaries import SummariesClient
from tracker_notifier.prestart import MIGRATIONS
from tracker_runtime.database import libpq_dsn
from tracker_runtime.migrations import prepare

NOTIFIER_DATABASE = run.database_url("tracker_notifier_digest", "psycopg")
import_models("tracker_notifier")
EMPTY_TABLES = truncate_statement(Base.metadata)


@dataclass
class Digests:
    """The notifier side of a digest test: its database, and ticks at any instant."""

    stack: Stack
    database: Database
    enqueued: list[int] = field(default_factory=list)

    def settings(self, **overrides: Any) -> Settings:
        return Settings.model_validate(
            {
                "database_url": NOTIFIER_DATABASE,
                "tasks_url": self.stack.url("tasks"),
                "auth_url": self.stack.url("auth"),
                "public_url": self.stack.gateway,
                "digest_batch_size": 100,
                **overrides,
            }
        )

    def tick(self, at: datetime, **overrides: Any) -> TickReport:
        settings = self.settings(**overrides)
        summaries = SummariesClient(settings)
        try:
            run = DigestRun(self.database, summaries, settings, enqueue=self.enqueued.extend)
            return run.tick(at)
        finally:
            summaries.close()

    def add_user(self, timezone: str, *, digest_enabled: bool = True) -> uuid.UUID:
        user_id = uuid.uuid4()
        with self.database.transaction() as session:
            session.execute(
                text(
                    "INSERT INTO recipients"
                    " (user_id, email, timezone, digest_enabled, email_verified, updated_at)"
                    " VALUES (:id, :email, :timezone, :enabled, true, now())"
                ),
                {
                    "id": user_id,
                    "email": f"{user_id.hex[:12]}@example.com",
                    "timezone": timezone,
                    "enabled": digest_enabled,
                },
            )
        return user_id

    def deliveries(self, user_id: uuid.UUID) -> list[dict[str, Any]]:
        with self.database.transaction() as session:
            rows = session.execute(
                text("SELECT * FROM deliveries WHERE user_id = :id ORDER BY id"), {"id": user_id}
            )
            return [dict(row._mapping) for row in rows]

    def claimed_days(self, user_id: uuid.UUID) -> list[str]:
        with self.database.transaction() as session:
            rows = session.execute(
                text("SELECT day FROM digest_claims WHERE user_id = :id ORDER BY day"),
                {"id": user_id},
            )
            return [row.day.isoformat() for row in rows]


def add_task(
    owner: uuid.UUID,
    title: str,
    *,
    completed_at: datetime | None = None,
    created: datetime | None = None,
    due_date: date | None = None,
    due_time: time | None = None,
) -> None:
    """A task straight into the tasks service's database, at the instants the test names."""
    created_at = created or (completed_at or datetime.now(UTC)) - timedelta(days=1)
    with psycopg.connect(libpq_dsn(TASKS_DATABASE)) as connection:
        connection.execute(
            "INSERT INTO tasks (id, owner_id, title, status, completed_at, created_at, updated_at,"
            " due_date, due_time) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                uuid.uuid4(),
                owner,
                title,
                "open" if completed_at is None else "done",
                completed_at,
                created_at,
                completed_at or created_at,
                due_date,
                due_time,
            ),
        )


@pytest.fixture(scope="session")
def digest_database() -> Iterator[Database]:
    prepare(MIGRATIONS, NOTIFIER_DATABASE)
    database = Database(new_engine(NOTIFIER_DATABASE, pool_size=4))
    yield database
    database.dispose()


@pytest.fixture
def digests(stack: Stack, digest_database: Database) -> Digests:
    with digest_database.transaction() as session:
        session.execute(text(EMPTY_TABLES))
    return Digests(stack, digest_database)
