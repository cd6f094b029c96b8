"""Mail preferences: ``PATCH /api/user`` and the ``user.updated`` event it writes."""

import asyncio
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI

from tracker_runtime.outbox import add_event

from ..support import BASE_URL, Account, fetch_all, updated_events


async def stored_user(app: FastAPI) -> dict[str, object]:
    [row] = await fetch_all(
        app,
        "SELECT email, timezone, digest_enabled, reminders_enabled, email_verified FROM users",
    )
    return row


async def test_the_user_includes_the_digest_setting_on_by_default(
    client: httpx.AsyncClient, account: Account
) -> None:
    response = await client.get("/api/user")

    assert response.status_code == 200
    assert response.json()["digest_enabled"] is True
    assert response.json()["timezone"] == "UTC"


async def test_registration_answers_with_the_digest_setting(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/user", json={"email": "grace@example.com", "password": "correct horse battery"}
    )

    assert response.status_code == 200
    assert response.json()["digest_enabled"] is True


async def test_changing_the_timezone_returns_the_user_and_writes_user_updated(
    client: httpx.AsyncClient, app: FastAPI, account: Account
) -> None:
    response = await client.patch("/api/user", json={"timezone": "Europe/Berlin"})

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == account.id
    assert body["email"] == account.email
    assert body["timezone"] == "Europe/Berlin"
    assert body["digest_enabled"] is True
    assert "created_at" in body
    assert (await client.get("/api/user")).json() == body
    assert await updated_events(app) == [
        {
            "user_id": account.id,
            "email": account.email,
            "timezone": "Europe/Berlin",
            "digest_enabled": True,
            "reminders_enabled": True,
            "email_verified": False,
        }
    ]


async def test_the_event_row_carries_version_and_request_id(
    client: httpx.AsyncClient, app: FastAPI, account: Account
) -> None:
    response = await client.patch(
        "/api/user", json={"digest_enabled": False}, headers={"X-Request-ID": "prefs-1"}
    )

    assert response.status_code == 200
    [row] = await fetch_all(
        app, "SELECT headers, published_at FROM outbox WHERE event_type = 'user.updated'"
    )
    assert row["headers"] == {"event_version": 1, "x-request-id": "prefs-1"}


async def test_turning_the_digest_off_and_on_again(
    client: httpx.AsyncClient, app: FastAPI, account: Account
) -> None:
    off = await client.patch("/api/user", json={"digest_enabled": False})
    on = await client.patch("/api/user", json={"digest_enabled": True})

    assert off.status_code == on.status_code == 200
    assert off.json()["digest_enabled"] is False
    assert on.json()["digest_enabled"] is True
    assert [event["digest_enabled"] for event in await updated_events(app)] == [False, True]
    assert (await stored_user(app))["digest_enabled"] is True


async def test_both_fields_at_once_write_one_event_with_both(
    client: httpx.AsyncClient, app: FastAPI, account: Account
) -> None:
    response = await client.patch(
        "/api/user", json={"timezone": "Asia/Tokyo", "digest_enabled": False}
    )

    assert response.status_code == 200
    assert (response.json()["timezone"], response.json()["digest_enabled"]) == ("Asia/Tokyo", False)
    [event] = await updated_events(app)
    assert (event["timezone"], event["digest_enabled"]) == ("Asia/Tokyo", False)


async def test_a_field_left_out_keeps_its_value(
    client: httpx.AsyncClient, app: FastAPI, account: Account
) -> None:
    await client.patch("/api/user", json={"digest_enabled": False})

    response = await client.patch("/api/user", json={"timezone": "America/Sao_Paulo"})

    assert response.json()["digest_enabled"] is False
    assert await stored_user(app) == {
        "email": account.email,
        "timezone": "America/Sao_Paulo",
        "digest_enabled": False,
        "reminders_enabled": True,
        "email_verified": False,
    }
    assert (await updated_events(app))[-1]["digest_enabled"] is False


@pytest.mark.parametrize(
    ("form", "timezone", "digest_enabled"),
    [
        ({"timezone": "Europe/Lisbon"}, "Europe/Lisbon", True),
        ({"digest_enabled": "false"}, "UTC", False),
        ({"digest_enabled": "off"}, "UTC", False),
        ({"timezone": "Australia/Perth", "digest_enabled": "0"}, "Australia/Perth", False),
    ],
)
async def test_a_form_body_is_accepted(
    client: httpx.AsyncClient,
    app: FastAPI,
    account: Account,
    form: dict[str, str],
    timezone: str,
    digest_enabled: bool,
) -> None:
    response = await client.patch("/api/user", data=form)

    assert response.status_code == 200, response.text
    assert (response.json()["timezone"], response.json()["digest_enabled"]) == (
        timezone,
        digest_enabled,
    )
    assert len(await updated_events(app)) == 1


@pytest.mark.parametrize(
    "change",
    [
        {"timezone": "UTC"},
        {"digest_enabled": True},
        {"timezone": "UTC", "digest_enabled": True},
    ],
)
async def test_a_change_to_the_current_values_writes_no_event(
    client: httpx.AsyncClient, app: FastAPI, account: Account, change: dict[str, object]
) -> None:
    response = await client.patch("/api/user", json=change)

    assert response.status_code == 200
    assert (response.json()["timezone"], response.json()["digest_enabled"]) == ("UTC", True)
    assert await updated_events(app) == []


async def test_repeating_a_change_writes_one_event(
    client: httpx.AsyncClient, app: FastAPI, account: Account
) -> None:
    for _ in range(3):
        response = await client.patch("/api/user", json={"timezone": "Europe/Paris"})
        assert response.status_code == 200

    assert len(await updated_events(app)) == 1


NO_CHANGE = "Give at least one of timezone, digest_enabled and reminders_enabled"


@pytest.mark.parametrize(
    ("content", "kind", "status", "field"),
    [
        ({}, "json", 422, None),
        ({"timezone": None}, "json", 422, None),
        ({"timezone": None, "digest_enabled": None}, "json", 422, None),
        ({"timezone": "Mars/Olympus"}, "json", 422, "timezone"),
        ({"timezone": "../etc/passwd"}, "json", 422, "timezone"),
        ({"timezone": "Europe/" + "x" * 60}, "json", 422, "timezone"),
        ({"timezone": 42}, "json", 422, "timezone"),
        ({"digest_enabled": "maybe"}, "json", 422, "digest_enabled"),
        ({"digest_enabled": [True]}, "json", 422, "digest_enabled"),
        ({"digest_enabled": False, "email": "eve@example.com"}, "json", 422, "email"),
        ({"timezone": "Asia/Tokyo", "password": "new password!"}, "json", 422, "password"),
        ({"id": "00000000-0000-0000-0000-000000000000"}, "json", 422, "id"),
        ({}, "form", 422, None),
        ({"digest_enabled": "maybe"}, "form", 422, "digest_enabled"),
        ({"timezone": "Asia/Tokyo", "email": "eve@example.com"}, "form", 422, "email"),
        ("[1, 2]", "raw-json", 422, None),
        ("{not json", "raw-json", 400, None),
        ("timezone=Asia/Tokyo", "text/plain", 415, None),
    ],
)
async def test_invalid_changes_get_a_4xx_with_a_message_and_change_nothing(
    client: httpx.AsyncClient,
    app: FastAPI,
    account: Account,
    content: Any,
    kind: str,
    status: int,
    field: str | None,
) -> None:
    if kind == "json":
        response = await client.patch("/api/user", json=content)
    elif kind == "form":
        response = await client.patch(
            "/api/user",
            content=urlencode(content),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    else:
        content_type = "application/json" if kind == "raw-json" else kind
        response = await client.patch(
            "/api/user", content=content, headers={"content-type": content_type}
        )

    assert response.status_code == status, response.text
    body = response.json()
    assert isinstance(body["message"], str)
    assert body["message"]
    if field is not None:
        assert field in [error["field"] for error in body["errors"]]
    assert await stored_user(app) == {
        "email": account.email,
        "timezone": "UTC",
        "digest_enabled": True,
        "reminders_enabled": True,
        "email_verified": False,
    }
    assert await updated_events(app) == []


async def test_an_empty_change_says_what_to_give(
    client: httpx.AsyncClient, account: Account
) -> None:
    response = await client.patch("/api/user", json={})

    assert response.status_code == 422
    assert NO_CHANGE in response.json()["message"]


async def test_an_unknown_field_is_named(client: httpx.AsyncClient, account: Account) -> None:
    response = await client.patch("/api/user", json={"digest_enabled": False, "admin": True})

    assert response.status_code == 422
    assert {"field": "admin", "message": "Unknown field"} in response.json()["errors"]


async def test_without_a_login_the_change_is_refused(
    client: httpx.AsyncClient, app: FastAPI, account: Account
) -> None:
    client.cookies.clear()

    response = await client.patch("/api/user", json={"digest_enabled": False})

    assert response.status_code == 401
    assert response.json()["message"]
    assert response.headers["www-authenticate"] == "Bearer"
    assert (await stored_user(app))["digest_enabled"] is True
    assert await updated_events(app) == []


async def test_a_bearer_token_may_change_the_preferences(
    client: httpx.AsyncClient, app: FastAPI, account: Account
) -> None:
    client.cookies.clear()

    response = await client.patch(
        "/api/user",
        json={"timezone": "Pacific/Auckland"},
        headers={"Authorization": f"Bearer {account.access_token}"},
    )

    assert response.status_code == 200
    assert response.json()["timezone"] == "Pacific/Auckland"


async def test_an_ended_session_may_not_change_the_preferences(
    client: httpx.AsyncClient, app: FastAPI, account: Account
) -> None:
    assert (await client.delete("/api/session")).status_code == 204
    client.cookies.clear()

    response = await client.patch(
        "/api/user",
        json={"digest_enabled": False},
        headers={"Authorization": f"Bearer {account.access_token}"},
    )

    assert response.status_code == 401
    assert (await stored_user(app))["digest_enabled"] is True
    assert await updated_events(app) == []


async def test_one_user_changes_only_their_own_preferences(
    client: httpx.AsyncClient, app: FastAPI, account: Account
) -> None:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.8", 40000))
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as other:
        registered = await other.post(
            "/api/user", json={"email": "grace@example.com", "password": account.password}
        )
        assert registered.status_code == 200
        response = await other.patch("/api/user", json={"digest_enabled": False})

    assert response.status_code == 200
    rows = await fetch_all(app, "SELECT email, digest_enabled FROM users ORDER BY email")
    assert rows == [
        {"email": "ada@example.com", "digest_enabled": True},
        {"email": "grace@example.com", "digest_enabled": False},
    ]
    [event] = await updated_events(app)
    assert event["email"] == "grace@example.com"


async def test_a_failure_after_the_event_rolls_back_change_and_event(
    app: FastAPI, client: httpx.AsyncClient, account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def add_then_fail(*args: Any, **kwargs: Any) -> Any:
        await add_event(*args, **kwargs)
        raise RuntimeError("the transaction fails after the event was written")

    monkeypatch.setattr("tracker_auth.users.service.add_event", add_then_fail)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport, base_url=BASE_URL, cookies=client.cookies
    ) as failing:
        response = await failing.patch("/api/user", json={"timezone": "Europe/Rome"})

    assert response.status_code == 500
    assert await stored_user(app) == {
        "email": account.email,
        "timezone": "UTC",
        "digest_enabled": True,
        "reminders_enabled": True,
        "email_verified": False,
    }
    assert await updated_events(app) == []


async def test_concurrent_changes_apply_one_after_the_other(
    client: httpx.AsyncClient, app: FastAPI, account: Account
) -> None:
    """Each change reads the row fresh under its lock: neither undoes the other, and the
    newest event carries both."""
    responses = await asyncio.gather(
        client.patch("/api/user", json={"timezone": "Europe/Vienna"}),
        client.patch("/api/user", json={"digest_enabled": False}),
    )

    assert [response.status_code for response in responses] == [200, 200]
    assert await stored_user(app) == {
        "email": account.email,
        "timezone": "Europe/Vienna",
        "digest_enabled": False,
        "reminders_enabled": True,
        "email_verified": False,
    }
    events = await updated_events(app)
    assert len(events) == 2
    assert (events[-1]["timezone"], events[-1]["digest_enabled"]) == ("Europe/Vienna", False)
