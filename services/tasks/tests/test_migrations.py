"""The Alembic history builds exactly the tables the code describes, and can be undone."""

import asyncio

from alembic import command
from sqlalchemy import text

from tests.support import run
from tracker_runtime.database import Database
from tracker_runtime.migrations import alembic_config, ensure_database
from tracker_tasks.prestart import MIGRATIONS

from .conftest import TEST_DATABASE_URL

SCRATCH_URL = run.database_url("tracker_tasks_migrations_test")


async def tables(url: str) -> set[str]:
    database = Database(url)
    try:
        async with database.engine.connect() as connection:
            rows = await connection.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            )
            return {row[0] for row in rows}
    finally:
        await database.dispose()


def test_the_migrations_match_the_models(settings: object) -> None:
    """`alembic check` on the migrated test database finds nothing to generate."""
    command.check(alembic_config(MIGRATIONS, TEST_DATABASE_URL))


def test_the_migrations_go_down_and_up_again() -> None:
    asyncio.run(ensure_database(SCRATCH_URL))
    config = alembic_config(MIGRATIONS, SCRATCH_URL)

    command.upgrade(config, "head")
    command.downgrade(config, "base")
    after_downgrade = asyncio.run(tables(SCRATCH_URL))
    command.upgrade(config, "head")
    after_upgrade = asyncio.run(tables(SCRATCH_URL))

    assert after_downgrade == {"alembic_version"}
    assert {"tasks", "revoked_sessions", "outbox"} <= after_upgrade
