"""The Alembic history builds exactly the tables (and indexes) the code describes."""

from alembic import command
from sqlalchemy import Engine

from tracker_notifier.prestart import MIGRATIONS
from tracker_runtime.migrations import alembic_config

from .conftest import TEST_DATABASE_URL


def test_the_migrations_match_the_models(engine: Engine) -> None:
    """`alembic check` on the migrated test database finds nothing to generate."""
    command.check(alembic_config(MIGRATIONS, TEST_DATABASE_URL))
