"""Helpers shared by the auth tests."""

import json
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from sqlalchemy import text

from tracker_contracts import UserUpdated, parse_envelope

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


async def updated_events(app: FastAPI) -> list[dict[str, Any]]:
    """The ``user.updated`` events in the outbox, oldest first, as their data."""
    rows = await fetch_all(
        app, "SELECT payload FROM outbox WHERE event_type = 'user.updated' ORDER BY id"
    )
    events = []
    for row in rows:
        envelope = parse_envelope(json.dumps(row["payload"]))
        assert isinstance(envelope.data, UserUpdated)
        events.append(envelope.data.model_dump(mode="json"))
    return events


async def events(app: FastAPI, event_type: str) -> list[dict[str, Any]]:
    """The events of ``event_type`` in the outbox, oldest first, as their validated data."""
    rows = await fetch_all(
        app, "SELECT payload FROM outbox WHERE event_type = :type ORDER BY id", type=event_type
    )
    return [parse_envelope(json.dumps(row["payload"])).data.model_dump(mode="json") for row in rows]


async def last_link_token(app: FastAPI, event_type: str) -> str:
    """The token of the newest mail request of ``event_type`` (what the mail's link holds)."""
    token = (await events(app, event_type))[-1]["token"]
    assert isinstance(token, str)
    return token
