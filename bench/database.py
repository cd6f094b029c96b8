"""The benchmarks' own PostgreSQL databases: emptied before each run so reruns start alike."""

import asyncio
from dataclasses import dataclass
from importlib import import_module

import asyncpg
from sqlalchemy import MetaData

from devsupport.database import truncate_statement
from tracker_runtime.database import libpq_dsn


@dataclass(frozen=True)
class BenchDatabase:
    """A service's bench database: ``variable`` is the setting that names it."""

    service: str
    variable: str
    url: str

    @property
    def metadata(self) -> MetaData:
        """Every table of the service (its models' registry)."""
        metadata: MetaData = import_module(f"{self.service}.models").Base.metadata
        return metadata


AUTH = BenchDatabase(
    "tracker_auth",
    "AUTH_DATABASE_URL",
    "postgresql+asyncpg://postgres@127.0.0.1:5432/tracker_auth_bench",
)
TASKS = BenchDatabase(
    "tracker_tasks",
    "TASKS_DATABASE_URL",
    "postgresql+asyncpg://postgres@127.0.0.1:5432/tracker_tasks_bench",
)
NOTIFIER = BenchDatabase(
    "tracker_notifier",
    "NOTIFIER_DATABASE_URL",
    "postgresql+psycopg://postgres@127.0.0.1:5432/tracker_notifier_bench",
)


async def _truncate(url: str, metadata: MetaData) -> None:
    connection = await asyncpg.connect(libpq_dsn(url), timeout=10)
    try:
        await connection.execute(truncate_statement(metadata, cascade=True, restart_identity=True))
    finally:
        await connection.close()


def truncate(url: str, metadata: MetaData) -> None:
    """Empty every table of ``metadata`` in the database at ``url``."""
    asyncio.run(_truncate(url, metadata))
