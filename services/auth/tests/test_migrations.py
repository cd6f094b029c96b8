"""The Alembic history builds exactly the tables (and indexes) the code describes."""

import asyncio

import pytest
from alembic import command
from sqlalchemy import text

from tests.support import run
from tracker_auth.config import Settings
from tracker_auth.prestart import MIGRATIONS
from tracker_runtime.database import Database
from tracker_runtime.migrations import alembic_config, ensure_database

from .conftest import TEST_DATABASE_URL


def test_the_migrations_match_the_models(settings: Settings) -> None:
    """`alembic check` on the migrated test database finds nothing to generate."""
    command.check(alembic_config(MIGRATIONS, TEST_DATABASE_URL))


SCRATCH_URL = run.database_url("tracker_auth_migrations_test")


async def execute(url: str, statement: str) -> list[dict[str, object]]:
    database = Database(url)
    try:
        async with database.engine.begin() as connection:
            result = await connection.execute(text(statement))
            return [dict(row._mapping) for row in result] if result.returns_rows else []
    finally:
        await database.dispose()


def test_accounts_that_existed_count_as_confirmed_and_new_ones_do_not() -> None:
    asyncio.run(ensure_database(SCRATCH_URL))
    config = alembic_config(MIGRATIONS, SCRATCH_URL)
    command.downgrade(config, "base")
    command.upgrade(config, "0004")
    asyncio.run(
        execute(
            SCRATCH_URL,
            "INSERT INTO users (id, email, password_hash, timezone) VALUES "
            "(gen_random_uuid(), 'Élodie@Example.com', 'x', 'UTC')",
        )
    )

    command.upgrade(config, "head")
    asyncio.run(
        execute(
            SCRATCH_URL,
            "INSERT INTO users (id, email, email_key, password_hash, timezone) VALUES "
            "(gen_random_uuid(), 'new@example.com', 'new@example.com', 'x', 'UTC')",
        )
    )

    rows = asyncio.run(
        execute(
            SCRATCH_URL,
            "SELECT email_key, email_verified, reminders_enabled FROM users ORDER BY created_at",
        )
    )
    assert rows == [
        {"email_key": "élodie@example.com", "email_verified": True, "reminders_enabled": True},
        {"email_key": "new@example.com", "email_verified": False, "reminders_enabled": True},
    ]
    command.downgrade(config, "0004")
    command.upgrade(config, "head")


def test_addresses_that_differ_only_in_case_stop_the_migration_with_a_reason() -> None:
    asyncio.run(ensure_database(SCRATCH_URL))
    config = alembic_config(MIGRATIONS, SCRATCH_URL)
    command.downgrade(config, "base")
    command.upgrade(config, "0004")
    asyncio.run(
        execute(
            SCRATCH_URL,
            "INSERT INTO users (id, email, password_hash, timezone) VALUES "
            "(gen_random_uuid(), 'STRASSE@example.com', 'x', 'UTC'), "
            "(gen_random_uuid(), 'straße@example.com', 'x', 'UTC')",
        )
    )

    with pytest.raises(RuntimeError, match="differ only in case"):
        command.upgrade(config, "head")

    command.downgrade(config, "base")
