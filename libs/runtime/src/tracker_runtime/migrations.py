"""Start-up preparation of a service's database: wait for the server, create the database
if it is missing, and run the service's Alembic migrations to the newest revision.

Each service's ``prestart`` module (``python -m <service>.prestart``) is one call of
:func:`prestart` with its migrations and settings.
"""

import asyncio
import importlib
import logging
import time
from pathlib import Path
from typing import Protocol

import asyncpg
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import make_url

from tracker_runtime.database import libpq_dsn
from tracker_runtime.logging import configure_logging

logger = logging.getLogger("tracker.migrations")


async def ensure_database(url: str, *, wait_seconds: float = 60.0) -> None:
    """Wait until PostgreSQL answers, then create the database named in ``url`` if absent."""
    name = make_url(url).database
    if not name:
        raise ValueError(f"no database name in {make_url(url)!r}")
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            connection = await asyncpg.connect(libpq_dsn(url, "postgres"), timeout=5)
            break
        except (OSError, asyncpg.PostgresError) as error:
            if time.monotonic() > deadline:
                raise
            logger.info("waiting for PostgreSQL: %s", error)
            await asyncio.sleep(1)
    try:
        exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            quoted = '"' + name.replace('"', '""') + '"'
            try:
                await connection.execute(f"CREATE DATABASE {quoted}")
                logger.info("created database %s", name)
            except asyncpg.DuplicateDatabaseError:
                pass  # another process created it in the meantime
    finally:
        await connection.close()


def alembic_config(script_location: Path, url: str) -> Config:
    """An Alembic configuration built in code, so that migrations shipped inside an
    installed package run without an ini file."""
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(script_location: Path, url: str) -> None:
    command.upgrade(alembic_config(script_location, url), "head")


def prepare(script_location: Path, url: str) -> None:
    asyncio.run(ensure_database(url))
    upgrade(script_location, url)
    logger.info("database %s is at the newest revision", make_url(url).database)


class PrestartSettings(Protocol):
    """What :func:`prestart` reads from a service's settings."""

    @property
    def log_level(self) -> str: ...

    @property
    def log_json(self) -> bool: ...

    @property
    def database_url(self) -> str: ...


def migrations_of(package: str) -> Path:
    """The Alembic scripts shipped inside ``package``: its ``migrations`` folder."""
    location = importlib.import_module(package).__file__
    if location is None:
        raise ValueError(f"{package} is not a regular package")
    return Path(location).resolve().parent / "migrations"


def prestart(migrations: Path, settings: PrestartSettings) -> None:
    """``python -m <service>.prestart``: log as the service does, then :func:`prepare` the
    service's database (``settings.database_url``)."""
    configure_logging(settings.log_level, json_lines=settings.log_json)
    prepare(migrations, settings.database_url)
