"""The account flow a person meets, over HTTP through nginx, as `make dev` serves it."""

import time

import httpx
import pytest

from devsupport.accounts import PASSWORD, bearer, new_email, register_sync
from tests.conftest import MAX_FAILURES, Stack


@pytest.fixture
def email() -> str:
    return new_email()


def test_register_log_out_and_log_in_through_the_gateway(stack: Stack, email: str) -> None:
    with httpx.Client(base_url=stack.gateway) as browser:
        registered = browser.post("/api/user", json={"email": email, "password": PASSWORD})
        assert registered.status_code == 200, registered.text
        assert {"tt_access", "tt_refresh"} <= set(registered.cookies.keys())
        token = registered.json()["access_token"]

        taken = browser.post("/api/user", json={"email": email.upper(), "password": PASSWORD})
        assert taken.status_code == 409
        assert taken.json()["message"] == "This email is already taken"

        me = browser.get("/api/user")
        assert me.status_code == 200
        assert me.json()["email"] == email
        assert set(me.json()) >= {"id", "email"}

    with httpx.Client(base_url=stack.gateway) as cli:
        assert cli.get("/api/user", headers=bearer(token)).status_code == 200
        assert cli.delete("/api/session", headers=bearer(token)).status_code == 204
        after = cli.get("/api/user", headers=bearer(token))
        assert after.status_code == 401
        assert after.json()["message"]

        wrong = cli.post("/api/session", json={"email": email, "password": "wrong password"})
        assert wrong.status_code == 401
        logged_in = cli.post("/api/session", json={"email": email, "password": PASSWORD})
        assert logged_in.status_code == 200


def test_register_with_a_form_through_the_gateway(stack: Stack, email: str) -> None:
    response = httpx.post(
        f"{stack.gateway}/api/user",
        data={"email": email, "password": PASSWORD, "timezone": "Pacific/Kiritimati"},
    )

    assert response.status_code == 200
    assert response.json()["timezone"] == "Pacific/Kiritimati"
    assert "tt_access" in response.cookies


def test_many_wrong_passwords_are_throttled(stack: Stack, email: str) -> None:
    with httpx.Client(base_url=stack.gateway) as client:
        register_sync(client, email)
        statuses = [
            client.post("/api/session", json={"email": email, "password": "nope nope"}).status_code
            for _ in range(MAX_FAILURES + 1)
        ]

    assert statuses[:MAX_FAILURES] == [401] * MAX_FAILURES
    assert statuses[MAX_FAILURES] == 429


def test_the_gateway_sends_security_headers_and_a_request_id(stack: Stack) -> None:
    page = httpx.get(f"{stack.gateway}/")
    api = httpx.get(f"{stack.gateway}/api/user")

    for response in (page, api):
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"]
        assert len(response.headers["x-request-id"]) >= 16
    assert page.headers["cache-control"] == "no-cache"
    assert api.status_code == 401


def test_the_gateway_s_request_id_reaches_the_service(stack: Stack) -> None:
    response = httpx.get(f"{stack.gateway}/api/user", headers={"X-Request-ID": "trace-me-123"})

    request_id = response.headers["x-request-id"]
    assert request_id != "trace-me-123", "the gateway names each request itself"
    deadline = time.monotonic() + 10  # honcho relays the service's log line asynchronously
    while request_id not in stack.log.read_text():
        assert time.monotonic() < deadline, "the service never logged the request id"
        time.sleep(0.05)
    assert "trace-me-123" not in stack.log.read_text()


def test_unknown_api_paths_and_oversized_bodies_get_json_errors(stack: Stack) -> None:
    unknown = httpx.get(f"{stack.gateway}/api/nothing-here")
    too_large = httpx.post(
        f"{stack.gateway}/api/user",
        content=b"x" * 100_000,
        headers={"content-type": "application/json"},
    )

    assert unknown.status_code == 404
    assert unknown.json()["message"]
    assert too_large.status_code == 413
    assert too_large.json()["message"]


def test_cross_site_form_posts_are_refused(stack: Stack, email: str) -> None:
    response = httpx.post(
        f"{stack.gateway}/api/user",
        data={"email": email, "password": PASSWORD},
        headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    )

    assert response.status_code == 403
    assert response.json()["message"]
