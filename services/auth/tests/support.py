"""Helpers shared by the auth tests (accounts: :mod:`devsupport.accounts`)."""

import json
from typing import Any

from fastapi import FastAPI

from tests.support.database import fetch_all
from tracker_contracts import UserUpdated, parse_envelope

BASE_URL = "https://tracker.test"


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
