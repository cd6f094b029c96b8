"""One-click unsubscribe (RFC 8058): the link in the digest mail turns the digest off, the
one in a reminder mail the reminders."""

import re
import uuid
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI

from devsupport.accounts import PASSWORD, Account, bearer
from tests.support.database import fetch_all
from tracker_auth.context import AuthContext
from tracker_runtime import unsubscribe as tokens

from ..support import BASE_URL, updated_events

PATH = "/api/user/unsubscribe"
ONE_CLICK = {"List-Unsubscribe": "One-Click"}
MAIL_CLIENT = {"Sec-Fetch-Site": "cross-site", "Origin": "null"}
"""What a webmail's "Unsubscribe" button looks like when the browser posts it."""


def secret_of(context: AuthContext) -> str:
    return context.settings.unsubscribe_secret.get_secret_value()


def token_for(context: AuthContext, user_id: str | uuid.UUID) -> str:
    return tokens.sign(uuid.UUID(str(user_id)), secret_of(context))


def reminders_token_for(context: AuthContext, user_id: str | uuid.UUID) -> str:
    return tokens.sign(uuid.UUID(str(user_id)), secret_of(context), tokens.MailList.REMINDERS)


async def preferences(app: FastAPI) -> dict[str, object]:
    [row] = await fetch_all(app, "SELECT digest_enabled, reminders_enabled FROM users")
    return dict(row)


async def digest_enabled(app: FastAPI) -> object:
    [row] = await fetch_all(app, "SELECT digest_enabled FROM users")
    return row["digest_enabled"]


@pytest.fixture
async def mail_client(app: FastAPI) -> Any:
    """Another client, with no cookies of the user: what follows the link in a mail."""
    transport = httpx.ASGITransport(app=app, client=("198.51.100.23", 51000))
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
        yield http


# -- the page behind the link -------------------------------------------------------------


async def test_the_link_opens_a_page_that_asks_and_changes_nothing(
    mail_client: httpx.AsyncClient, app: FastAPI, context: AuthContext, account: Account
) -> None:
    token = token_for(context, account.id)

    response = await mail_client.get(PATH, params={"token": token})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"
    form = re.search(r'<form method="post" action="([^"]+)"', response.text)
    assert form is not None
    action = urlsplit(unescape(form.group(1)))
    assert action.path == PATH
    assert parse_qs(action.query)["token"] == [token]
    assert "<button" in response.text
    assert await digest_enabled(app) is True
    assert await updated_events(app) == []


async def test_opening_the_page_twice_still_changes_nothing(
    mail_client: httpx.AsyncClient, app: FastAPI, context: AuthContext, account: Account
) -> None:
    """Mail scanners follow every link, sometimes more than once."""
    for _ in range(2):
        response = await mail_client.get(PATH, params={"token": token_for(context, account.id)})
        assert response.status_code == 200

    assert await digest_enabled(app) is True
    assert await updated_events(app) == []


async def test_the_link_the_notifier_builds_works(
    mail_client: httpx.AsyncClient, app: FastAPI, context: AuthContext, account: Account
) -> None:
    link = tokens.link(context.settings.public_url, uuid.UUID(account.id), secret_of(context))
    assert link.startswith(f"{BASE_URL}{PATH}?token=")

    page = await mail_client.get(link)
    done = await mail_client.post(link, data=ONE_CLICK, headers=MAIL_CLIENT)

    assert page.status_code == 200
    assert done.status_code == 200
    assert await digest_enabled(app) is False


# -- the one-click POST -------------------------------------------------------------------


async def test_the_one_click_post_turns_the_digest_off_and_writes_user_updated(
    mail_client: httpx.AsyncClient, app: FastAPI, context: AuthContext, account: Account
) -> None:
    response = await mail_client.post(
        PATH,
        params={"token": token_for(context, account.id)},
        data=ONE_CLICK,
        headers=MAIL_CLIENT,
    )

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"
    assert "unsubscribed" in response.text
    assert f'href="{BASE_URL}"' in response.text
    assert "set-cookie" not in response.headers
    assert await digest_enabled(app) is False
    assert await updated_events(app) == [
        {
            "user_id": account.id,
            "email": account.email,
            "timezone": "UTC",
            "digest_enabled": False,
            "reminders_enabled": True,
            "email_verified": False,
        }
    ]


async def test_the_logged_in_user_sees_the_digest_off(
    client: httpx.AsyncClient,
    mail_client: httpx.AsyncClient,
    context: AuthContext,
    account: Account,
) -> None:
    await mail_client.post(
        PATH, params={"token": token_for(context, account.id)}, data=ONE_CLICK, headers=MAIL_CLIENT
    )

    assert (await client.get("/api/user")).json()["digest_enabled"] is False


@pytest.mark.parametrize(
    "headers",
    [
        MAIL_CLIENT,
        {"Sec-Fetch-Site": "cross-site"},
        {"Origin": "null"},
        {"Origin": "https://mail.example.net", "Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {},
    ],
)
async def test_the_post_is_accepted_from_any_site(
    mail_client: httpx.AsyncClient,
    app: FastAPI,
    context: AuthContext,
    account: Account,
    headers: dict[str, str],
) -> None:
    response = await mail_client.post(
        PATH, params={"token": token_for(context, account.id)}, data=ONE_CLICK, headers=headers
    )

    assert response.status_code == 200, response.text
    assert await digest_enabled(app) is False


async def test_the_pages_button_posts_without_a_body(
    mail_client: httpx.AsyncClient, app: FastAPI, context: AuthContext, account: Account
) -> None:
    """The form on the page has no fields: the browser posts an empty form body."""
    response = await mail_client.post(
        PATH,
        params={"token": token_for(context, account.id)},
        content=b"",
        headers={"content-type": "application/x-www-form-urlencoded", "Origin": BASE_URL},
    )

    assert response.status_code == 200
    assert await digest_enabled(app) is False


async def test_unsubscribing_again_is_fine_and_writes_no_second_event(
    mail_client: httpx.AsyncClient, app: FastAPI, context: AuthContext, account: Account
) -> None:
    token = token_for(context, account.id)

    responses = [
        await mail_client.post(PATH, params={"token": token}, data=ONE_CLICK, headers=MAIL_CLIENT)
        for _ in range(3)
    ]

    assert [response.status_code for response in responses] == [200, 200, 200]
    assert await digest_enabled(app) is False
    assert len(await updated_events(app)) == 1


async def test_after_turning_the_digest_on_again_the_link_still_works(
    client: httpx.AsyncClient,
    mail_client: httpx.AsyncClient,
    app: FastAPI,
    context: AuthContext,
    account: Account,
) -> None:
    """The token has no expiry: a List-Unsubscribe link works as long as the mail exists."""
    token = token_for(context, account.id)
    await mail_client.post(PATH, params={"token": token}, data=ONE_CLICK, headers=MAIL_CLIENT)
    assert (await client.patch("/api/user", json={"digest_enabled": True})).status_code == 200

    response = await mail_client.post(
        PATH, params={"token": token}, data=ONE_CLICK, headers=MAIL_CLIENT
    )

    assert response.status_code == 200
    assert await digest_enabled(app) is False
    assert [event["digest_enabled"] for event in await updated_events(app)] == [False, True, False]


async def test_a_token_unsubscribes_only_its_own_user(
    mail_client: httpx.AsyncClient, app: FastAPI, context: AuthContext, account: Account
) -> None:
    other = await mail_client.post(
        "/api/user", json={"email": "grace@example.com", "password": PASSWORD}
    )
    assert other.status_code == 200
    mail_client.cookies.clear()

    await mail_client.post(
        PATH,
        params={"token": token_for(context, other.json()["id"])},
        data=ONE_CLICK,
        headers=MAIL_CLIENT,
    )

    rows = await fetch_all(app, "SELECT email, digest_enabled FROM users ORDER BY email")
    assert rows == [
        {"email": "ada@example.com", "digest_enabled": True},
        {"email": "grace@example.com", "digest_enabled": False},
    ]


async def test_the_token_does_not_log_anyone_in(
    mail_client: httpx.AsyncClient, context: AuthContext, account: Account
) -> None:
    token = token_for(context, account.id)

    as_bearer = await mail_client.get("/api/user", headers=bearer(token))
    mail_client.cookies.set("tt_access", token, path="/api")
    as_cookie = await mail_client.get("/api/user")

    assert as_bearer.status_code == as_cookie.status_code == 401


# -- the reminders' link -----------------------------------------------------------------


async def test_the_reminders_page_asks_about_reminders_and_changes_nothing(
    mail_client: httpx.AsyncClient, app: FastAPI, context: AuthContext, account: Account
) -> None:
    response = await mail_client.get(
        PATH, params={"token": reminders_token_for(context, account.id)}
    )

    assert response.status_code == 200
    assert "Stop reminder mails?" in response.text
    assert await preferences(app) == {"digest_enabled": True, "reminders_enabled": True}
    assert await updated_events(app) == []


async def test_the_reminders_one_click_post_turns_only_reminders_off(
    client: httpx.AsyncClient,
    mail_client: httpx.AsyncClient,
    app: FastAPI,
    context: AuthContext,
    account: Account,
) -> None:
    token = reminders_token_for(context, account.id)

    responses = [
        await mail_client.post(PATH, params={"token": token}, data=ONE_CLICK, headers=MAIL_CLIENT)
        for _ in range(2)
    ]

    assert [response.status_code for response in responses] == [200, 200]
    assert "reminder mails" in responses[0].text
    assert await preferences(app) == {"digest_enabled": True, "reminders_enabled": False}
    assert await updated_events(app) == [
        {
            "user_id": account.id,
            "email": account.email,
            "timezone": "UTC",
            "digest_enabled": True,
            "reminders_enabled": False,
            "email_verified": False,
        }
    ]
    assert (await client.get("/api/user")).json()["reminders_enabled"] is False


async def test_the_link_the_notifier_builds_for_reminders_works(
    mail_client: httpx.AsyncClient, app: FastAPI, context: AuthContext, account: Account
) -> None:
    link = tokens.link(
        context.settings.public_url,
        uuid.UUID(account.id),
        secret_of(context),
        tokens.MailList.REMINDERS,
    )

    done = await mail_client.post(link, data=ONE_CLICK, headers=MAIL_CLIENT)

    assert done.status_code == 200
    assert await preferences(app) == {"digest_enabled": True, "reminders_enabled": False}


# -- links that are not valid -------------------------------------------------------------


def _flip(token: str, position: int) -> str:
    replacement = "A" if token[position] != "A" else "B"
    return token[:position] + replacement + token[position + 1 :]


INVALID: dict[str, Any] = {
    "signed with another secret": lambda user_id, _secret: tokens.sign(
        user_id, "another secret, long enough to look real"
    ),
    "a character of the user id changed": lambda user_id, secret: _flip(
        tokens.sign(user_id, secret), 3
    ),
    "a character of the signature changed": lambda user_id, secret: _flip(
        tokens.sign(user_id, secret), 30
    ),
    "truncated": lambda user_id, secret: tokens.sign(user_id, secret)[:-2],
    "a genuine token with junk added": lambda user_id, secret: "!!" + tokens.sign(user_id, secret),
    "malformed": lambda *_: "not-a-token",
    "not base64": lambda *_: "%%%%%%%%",
    "empty": lambda *_: "",
    "a user id alone": lambda user_id, _secret: str(user_id),
    "too long": lambda user_id, secret: tokens.sign(user_id, secret) + "A" * 30,
    "far too long": lambda *_: "A" * 4000,
}


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("make_token", INVALID.values(), ids=INVALID.keys())
async def test_an_invalid_link_gets_400_with_a_message_and_changes_nothing(
    mail_client: httpx.AsyncClient,
    app: FastAPI,
    context: AuthContext,
    account: Account,
    method: str,
    make_token: Any,
) -> None:
    token = make_token(uuid.UUID(account.id), secret_of(context))

    response = await mail_client.request(
        method,
        PATH,
        params={"token": token},
        data=ONE_CLICK if method == "POST" else None,
        headers=MAIL_CLIENT,
    )

    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json()["message"]
    assert await digest_enabled(app) is True
    assert await updated_events(app) == []


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_a_link_without_a_token_is_refused_with_a_message(
    mail_client: httpx.AsyncClient, app: FastAPI, account: Account, method: str
) -> None:
    response = await mail_client.request(method, PATH, headers=MAIL_CLIENT)

    assert 400 <= response.status_code < 500
    assert response.json()["message"]
    assert await digest_enabled(app) is True


async def test_a_valid_token_for_an_unknown_user_gets_404(
    mail_client: httpx.AsyncClient, app: FastAPI, context: AuthContext, account: Account
) -> None:
    response = await mail_client.post(
        PATH,
        params={"token": token_for(context, uuid.uuid4())},
        data=ONE_CLICK,
        headers=MAIL_CLIENT,
    )

    assert response.status_code == 404
    assert response.json()["message"]
    assert await updated_events(app) == []


async def test_a_valid_token_for_a_deleted_user_gets_404(
    mail_client: httpx.AsyncClient, app: FastAPI, context: AuthContext, account: Account
) -> None:
    token = token_for(context, account.id)
    async with app.state.database.engine.begin() as connection:
        await connection.exec_driver_sql("TRUNCATE users CASCADE")

    response = await mail_client.post(
        PATH, params={"token": token}, data=ONE_CLICK, headers=MAIL_CLIENT
    )

    assert response.status_code == 404
    assert response.json()["message"]
    assert await updated_events(app) == []


# -- the cross-site exemption is for this path alone --------------------------------------


@pytest.mark.parametrize("headers", [{"Origin": "https://evil.example"}, MAIL_CLIENT])
async def test_other_unsafe_requests_from_another_site_are_still_refused(
    client: httpx.AsyncClient, app: FastAPI, account: Account, headers: dict[str, str]
) -> None:
    response = await client.patch("/api/user", json={"digest_enabled": False}, headers=headers)

    assert response.status_code == 403
    assert response.json()["message"] == "Cross-site requests are not allowed"
    assert await digest_enabled(app) is True
    assert await updated_events(app) == []


@pytest.mark.parametrize("path", [f"{PATH}/", f"{PATH}/x", "/api/user/unsubscribe%2F"])
async def test_paths_next_to_the_exempt_one_are_not_exempt(
    client: httpx.AsyncClient,
    context: AuthContext,
    account: Account,
    path: str,
) -> None:
    response = await client.post(
        path,
        params={"token": token_for(context, account.id)},
        data=ONE_CLICK,
        headers=MAIL_CLIENT,
    )

    assert response.status_code == 403
