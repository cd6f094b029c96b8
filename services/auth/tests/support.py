"""Helpers shared by the auth tests."""

from dataclasses import dataclass

from fastapi import FastAPI
from sqlalchemy import text

BASE_URL = "https://tracker.test"
PASSWORD = "correct horse battery"


@dataclass
class Account:
    id: str
    email: str
    password: str
    access_token: str


async def fetch_all(app: FastAPI, query: str, **params: object) -> list[dict[str, object]]:
    async with app.state.database.engine.connect() as connection:
        rows = await connection.execute(text(query), params)
        return [dict(row._mapping) for row in rows]
