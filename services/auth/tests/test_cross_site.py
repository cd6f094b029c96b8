"""Cookie-authenticated unsafe requests from another site are refused."""

import httpx
import pytest

from devsupport.accounts import PASSWORD, Account

from .support import BASE_URL

CREDENTIALS = {"email": "ada@example.com", "password": PASSWORD}


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "cross-site", "Origin": BASE_URL},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "http://tracker.test.evil.example"},
    ],
)
async def test_cross_site_log_in_is_refused(
    client: httpx.AsyncClient, account: Account, headers: dict[str, str]
) -> None:
    response = await client.post("/api/session", json=CREDENTIALS, headers=headers)

    assert response.status_code == 403
    assert response.json()["message"] == "Cross-site requests are not allowed"


async def test_cross_site_log_out_is_refused(client: httpx.AsyncClient, account: Account) -> None:
    response = await client.delete("/api/session", headers={"Origin": "https://evil.example"})

    assert response.status_code == 403
    assert (await client.get("/api/user")).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Origin": BASE_URL},
        {"Origin": BASE_URL, "Sec-Fetch-Site": "same-origin"},
        {"Sec-Fetch-Site": "none"},
    ],
)
async def test_same_origin_requests_pass(
    client: httpx.AsyncClient, account: Account, headers: dict[str, str]
) -> None:
    response = await client.post("/api/session", json=CREDENTIALS, headers=headers)

    assert response.status_code == 200


async def test_the_origin_may_match_the_host_it_was_sent_to(
    client: httpx.AsyncClient, account: Account
) -> None:
    """Behind the gateway the Host header names the site; no configuration is needed."""
    response = await client.post(
        "/api/session",
        json=CREDENTIALS,
        headers={"Origin": "http://localhost:8080", "Host": "localhost:8080"},
    )

    assert response.status_code == 200


async def test_bearer_requests_are_not_subject_to_the_check(
    client: httpx.AsyncClient, account: Account
) -> None:
    """A browser never adds an Authorization header by itself, so it cannot be forged."""
    client.cookies.clear()
    response = await client.delete(
        "/api/session",
        headers={
            "Authorization": f"Bearer {account.access_token}",
            "Origin": "https://cli.example",
        },
    )

    assert response.status_code == 204


async def test_reading_is_allowed_from_anywhere(
    client: httpx.AsyncClient, account: Account
) -> None:
    response = await client.get("/api/user", headers={"Sec-Fetch-Site": "cross-site"})

    assert response.status_code == 200
