"""The benchmarks' own PostgreSQL databases: emptied before each run so reruns start alike."""

import asyncio

import asyncpg
from sqlalchemy import MetaData

from devsupport.database import truncate_statement
from tracker_runtime.database import libpq_dsn


async def _truncate(url: str, metadata: MetaData) -> None:
    connection = await asyncpg.connect(libpq_dsn(url), timeout=10)
    try:
        await connection.execute(truncate_statement(metadata, cascade=True, restart_identity=True))
    finally:
        await connection.close()


def truncate(url: str, metadata: MetaData) -> None:
    """Empty every table of ``metadata`` in the database at ``url``."""
    asyncio.run(_truncate(url, metadata))
