"""Accounts as a person or a service gets them from auth over HTTP: registering, logging
in, a service's client-credentials token, and the headers that carry them.

Each helper takes the ``httpx`` client to go through (an in-process app, the gateway of a
running stack, a benchmarked service) and raises :class:`AccountError` when auth does not
answer as it should, with what it answered.
"""

import base64
import uuid
from dataclasses import dataclass

import httpx

PASSWORD = "correct horse battery"
"""The password the tests register with (strong enough for auth's password rules)."""
USER_PATH = "/api/user"
SESSION_PATH = "/api/session"
TOKEN_PATH = "/internal/token"


class AccountError(AssertionError):
    """Auth refused what a helper asked of it."""


@dataclass(frozen=True)
class Account:
    id: str
    email: str
    password: str
    access_token: str

    @property
    def headers(self) -> dict[str, str]:
        """The access token as a Bearer header."""
        return bearer(self.access_token)


def new_email(prefix: str = "user") -> str:
    """An address nobody registered yet, e.g. ``user-3f2a9c1d0b7e@example.com``."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}@example.com"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def basic(client_id: str, secret: str) -> dict[str, str]:
    """A service client's id and secret as a Basic header."""
    credentials = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {credentials}"}


def _signed_in(response: httpx.Response, password: str) -> Account:
    if response.status_code != 200:
        raise AccountError(
            f"{response.request.method} {response.request.url.path} answered "
            f"{response.status_code}: {response.text}"
        )
    body = response.json()
    return Account(body["id"], body["email"], password, body["access_token"])


def _service_token(response: httpx.Response) -> str:
    if response.status_code != 200:
        raise AccountError(f"POST {TOKEN_PATH} answered {response.status_code}: {response.text}")
    token: str = response.json()["access_token"]
    return token


async def register(
    client: httpx.AsyncClient, email: str, password: str = PASSWORD, **fields: str
) -> Account:
    """Register ``email`` (with ``fields`` such as ``timezone``); the client then holds the
    new session's cookies."""
    response = await client.post(USER_PATH, json={"email": email, "password": password, **fields})
    return _signed_in(response, password)


def register_sync(
    client: httpx.Client, email: str, password: str = PASSWORD, **fields: str
) -> Account:
    """:func:`register` with a synchronous client."""
    response = client.post(USER_PATH, json={"email": email, "password": password, **fields})
    return _signed_in(response, password)


async def log_in(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> Account:
    """Log in; the client then holds the new session's cookies."""
    response = await client.post(SESSION_PATH, json={"email": email, "password": password})
    return _signed_in(response, password)


async def service_token(client: httpx.AsyncClient, client_id: str, secret: str) -> str:
    """A service token from auth's client-credentials endpoint."""
    response = await client.post(
        TOKEN_PATH, data={"grant_type": "client_credentials"}, headers=basic(client_id, secret)
    )
    return _service_token(response)
