"""Helpers shared by the tasks tests."""

import base64
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text

BASE_URL = "https://tracker.test"
AUTH_URL = "http://auth.test"
PASSWORD = "correct horse battery"
NOTIFIER_SECRET = "dev-notifier-secret"
STRANGER_SECRET = "dev-stranger-secret"


@dataclass
class Account:
    id: str
    email: str
    access_token: str

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.access_token)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def register(auth: httpx.AsyncClient, email: str) -> Account:
    """A person registered through the real auth service, with their access token."""
    response = await auth.post("/api/user", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    body = response.json()
    return Account(body["id"], body["email"], body["access_token"])


async def service_token(auth: httpx.AsyncClient, client_id: str, secret: str) -> str:
    """A service token from auth's client-credentials endpoint."""
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    response = await auth.post(
        "/internal/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


async def fetch_all(app: FastAPI, query: str, **params: object) -> list[dict[str, Any]]:
    async with app.state.database.engine.connect() as connection:
        rows = await connection.execute(text(query), params)
        return [dict(row._mapping) for row in rows]


async def execute(app: FastAPI, statement: str, **params: object) -> None:
    async with app.state.database.engine.begin() as connection:
        await connection.execute(text(statement), params)
