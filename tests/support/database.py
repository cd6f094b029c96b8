"""Reading and writing an in-process service's database straight, beside its API."""

from typing import Any

from fastapi import FastAPI
from sqlalchemy import text


async def fetch_all(app: FastAPI, query: str, **params: object) -> list[dict[str, Any]]:
    """The rows of ``query`` on ``app``'s database, each as a dict."""
    async with app.state.database.engine.connect() as connection:
        rows = await connection.execute(text(query), params)
        return [dict(row._mapping) for row in rows]


async def execute(app: FastAPI, statement: str, **params: object) -> None:
    """Run ``statement`` on ``app``'s database and commit."""
    async with app.state.database.engine.begin() as connection:
        await connection.execute(text(statement), params)
