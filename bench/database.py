"""The benchmarks' own PostgreSQL databases: emptied before each run so reruns start alike."""

import asyncio
from collections.abc import Sequence

import asyncpg

from tracker_runtime.database import libpq_dsn


async def _truncate(url: str, tables: Sequence[str]) -> None:
    connection = await asyncpg.connect(libpq_dsn(url), timeout=10)
    try:
        quoted = ", ".join('"' + table.replace('"', '""') + '"' for table in tables)
        await connection.execute(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE")
    finally:
        await connection.close()


def truncate(url: str, tables: Sequence[str]) -> None:
    """Empty ``tables`` of the database at ``url`` (and whatever references them)."""
    asyncio.run(_truncate(url, tables))
