"""The Alembic history builds exactly the tables (and indexes) the code describes."""

from alembic import command
from sqlalchemy import Engine, text

from tracker_notifier.db import Database
from tracker_notifier.prestart import MIGRATIONS
from tracker_runtime.migrations import alembic_config

from .conftest import TEST_DATABASE_URL


def test_the_migrations_match_the_models(engine: Engine) -> None:
    """`alembic check` on the migrated test database finds nothing to generate."""
    command.check(alembic_config(MIGRATIONS, TEST_DATABASE_URL))


def test_recipients_stored_before_addresses_were_confirmed_count_as_confirmed(
    database: Database,
) -> None:
    """Nobody's digest stops silently: the migration counts existing recipients as
    confirmed (and wanting reminders)."""
    config = alembic_config(MIGRATIONS, TEST_DATABASE_URL)
    command.downgrade(config, "0004")
    try:
        with database.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO recipients (user_id, email, timezone, updated_at) "
                    "VALUES (gen_random_uuid(), 'old@example.com', 'UTC', now())"
                )
            )
    finally:
        command.upgrade(config, "head")

    with database.engine.begin() as connection:
        row = connection.execute(
            text("SELECT email_verified, reminders_enabled FROM recipients")
        ).one()
    assert tuple(row) == (True, True)
