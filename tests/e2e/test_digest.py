"""The nightly digest through the whole stack, as `make dev` runs it: users registered and
tasks completed over HTTP, `make digest AT=...` run as an operator would, mail read from
the development mail catcher."""

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import httpx
import psycopg
import pytest

from devsupport.accounts import new_email, register_sync
from tests.conftest import NOTIFIER_DATABASE, Stack
from tests.support.tasks import create_task_sync, set_status_sync
from tracker_runtime.database import libpq_dsn


@dataclass(frozen=True)
class User:
    email: str
    client: httpx.Client
    """Logged in with the user's Bearer token."""

    def add_tasks(self, *titles: str) -> list[str]:
        return [create_task_sync(self.client, title=title)["id"] for title in titles]

    def complete(self, task_id: str) -> None:
        set_status_sync(self.client, None, task_id, "done")


Register = Callable[[str], User]


@pytest.fixture
def register(stack: Stack) -> Iterator[Register]:
    """Registers a new user in a timezone, through the gateway."""
    clients: list[httpx.Client] = []

    def new_user(timezone: str) -> User:
        client = httpx.Client(base_url=stack.gateway, timeout=10)
        clients.append(client)
        account = register_sync(client, new_email("digest"), timezone=timezone)
        client.headers.update(account.headers)
        stack.confirm_address(client, account.email)
        return User(account.email, client)

    yield new_user
    for client in clients:
        client.close()


def make_digest(stack: Stack, at: datetime) -> str:
    """`make digest AT=...` beside the running stack, as an operator runs it."""
    result = stack.shell(f"make --no-print-directory digest AT={at.isoformat()}")
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def wait_for_digests(stack: Stack, address: str, count: int) -> list[EmailMessage]:
    """The digests to ``address`` once ``count`` arrived (or 20 s passed), after a second
    of room for one too many to show up."""
    deadline = time.monotonic() + 20
    while len(digests_to(stack, address)) < count and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)
    return digests_to(stack, address)


def settled_digests(stack: Stack, address: str) -> list[EmailMessage]:
    """The digests to ``address`` after the worker had ample time to send one more: a run
    that stored a mail hands it to the worker before it exits."""
    time.sleep(2.0)
    return digests_to(stack, address)


def digests_to(stack: Stack, address: str) -> list[EmailMessage]:
    return [mail for mail in stack.mails_to(address) if "Your day" in str(mail["Subject"])]


def next_midnight(zone: ZoneInfo, after: datetime) -> datetime:
    local = after.astimezone(zone)
    return datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), zone)


def recipient_digest_enabled(user_email: str) -> bool | None:
    with psycopg.connect(libpq_dsn(NOTIFIER_DATABASE)) as connection:
        row = connection.execute(
            "SELECT digest_enabled FROM recipients WHERE email = %s", (user_email,)
        ).fetchone()
    return None if row is None else bool(row[0])


def text_of(mail: EmailMessage) -> str:
    body = mail.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def test_one_digest_per_user_at_their_own_midnight(stack: Stack, register: Register) -> None:
    utc = register("UTC")
    kiritimati = register("Pacific/Kiritimati")
    idle = register("UTC")
    first, _, _ = utc.add_tasks("Buy milk", "Write the <report>", "Call Bob")
    utc.complete(first)
    [island_task] = kiritimati.add_tasks("Swim")
    kiritimati.complete(island_task)
    now = datetime.now(UTC)

    # The next UTC midnight plus a minute: one mail for the UTC user, with the titles.
    at = next_midnight(ZoneInfo("UTC"), now) + timedelta(minutes=1)
    make_digest(stack, at)
    [mail] = wait_for_digests(stack, utc.email, 1)
    text = text_of(mail)
    assert "You completed 1 task today" in text
    assert "Buy milk" in text
    assert "You have 2 unfinished tasks" in text
    assert "Write the <report>" in text
    assert "Call Bob" in text
    html = mail.get_body(preferencelist=("html",))
    assert html is not None
    assert "Write the &lt;report&gt;" in str(html.get_content())
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    # The same command again: nothing new.
    output = make_digest(stack, at)
    assert "0 users" in output
    assert len(settled_digests(stack, utc.email)) == 1

    # Kiritimati's midnight was not at that instant; nobody without tasks gets anything.
    assert digests_to(stack, kiritimati.email) == []
    assert digests_to(stack, idle.email) == []

    # Kiritimati (UTC+14) gets theirs at its own midnight.
    island_at = next_midnight(ZoneInfo("Pacific/Kiritimati"), now) + timedelta(minutes=1)
    make_digest(stack, island_at)
    [island_mail] = wait_for_digests(stack, kiritimati.email, 1)
    assert "You completed 1 task today" in text_of(island_mail)
    assert "Swim" in text_of(island_mail)
    assert "unfinished" not in text_of(island_mail)
    assert digests_to(stack, idle.email) == []


def test_one_click_unsubscribe_stops_the_digest(stack: Stack, register: Register) -> None:
    user = register("UTC")
    user.add_tasks("Water the plants")
    now = datetime.now(UTC)
    at = next_midnight(ZoneInfo("UTC"), now) + timedelta(minutes=2)
    make_digest(stack, at)
    [mail] = wait_for_digests(stack, user.email, 1)

    # What a mail client does with List-Unsubscribe-Post (RFC 8058): a POST, no cookies.
    link = str(mail["List-Unsubscribe"]).strip("<>")
    assert link.startswith(f"{stack.gateway}/api/user/unsubscribe?token=")
    page = httpx.get(link)
    assert page.status_code == 200
    assert "<form" in page.text
    assert recipient_digest_enabled(user.email) is True  # a GET changes nothing
    response = httpx.post(
        link,
        content="List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded", "Origin": "null"},
    )
    assert response.status_code == 200
    assert user.client.get("/api/user").json()["digest_enabled"] is False

    deadline = time.monotonic() + 10
    while recipient_digest_enabled(user.email) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert recipient_digest_enabled(user.email) is False
    make_digest(stack, at + timedelta(days=1))
    assert len(settled_digests(stack, user.email)) == 1

    tampered = link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB")
    refused = httpx.post(tampered)
    assert refused.status_code == 400
    assert "not valid" in refused.json()["message"]


def test_preferences_change_through_the_gateway(register: Register) -> None:
    user = register("UTC")

    response = user.client.patch(
        "/api/user", json={"timezone": "Europe/Berlin", "digest_enabled": False}
    )
    refused = user.client.patch("/api/user", json={"timezone": "Not/AZone"})

    assert response.status_code == 200, response.text
    assert response.json()["timezone"] == "Europe/Berlin"
    assert response.json()["digest_enabled"] is False
    assert refused.status_code == 422
    assert refused.json()["message"]
    assert [error["field"] for error in refused.json()["errors"]] == ["timezone"]
