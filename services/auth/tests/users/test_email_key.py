"""Addresses are compared in one casefolded form: an address that registers can log in."""

import httpx
import pytest
from fastapi import FastAPI

from ..support import PASSWORD, fetch_all


@pytest.mark.parametrize(
    ("registered", "typed"),
    [
        ("Ada@Example.com", "ada@example.com"),
        ("ÉLODIE@example.com", "élodie@example.com"),
        ("STRASSE@example.com", "straße@example.com"),
        ("ǅemal@example.com", "ǆemal@example.com"),
    ],
)
async def test_the_address_logs_in_and_is_taken_in_any_case(
    client: httpx.AsyncClient, app: FastAPI, registered: str, typed: str
) -> None:
    created = await client.post("/api/user", json={"email": registered, "password": PASSWORD})
    assert created.status_code == 200, created.text

    for email in (registered, typed):
        login = await client.post("/api/session", json={"email": email, "password": PASSWORD})
        assert login.status_code == 200, (email, login.text)
        taken = await client.post("/api/user", json={"email": email, "password": PASSWORD})
        assert taken.status_code == 409
    [user] = await fetch_all(app, "SELECT email, email_key FROM users")
    assert user["email"] == created.json()["email"]  # kept as typed, for the mails
    assert user["email_key"] == typed.casefold()
