"""The nightly digest through the whole stack, as `make dev` runs it: users registered and
tasks completed over HTTP, `make digest AT=...` run as an operator would, mail read from
the development mail catcher."""

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import httpx
import psycopg
import pytest

from tests.conftest import NOTIFIER_DATABASE, ROOT, Stack
from tracker_runtime.database import libpq_dsn

PASSWORD = "correct horse battery"


Register = Callable[[Stack, str], httpx.Client]


@pytest.fixture
def register() -> Iterator[Register]:
    """Registers a new user in a timezone; returns their logged-in client."""
    clients: list[httpx.Client] = []

    def new_user(stack: Stack, timezone: str) -> httpx.Client:
        client = httpx.Client(base_url=stack.gateway, timeout=10)
        clients.append(client)
        return sign_up(client, timezone)

    yield new_user
    for client in clients:
        client.close()


def sign_up(client: httpx.Client, timezone: str) -> httpx.Client:
    email = f"digest-{uuid.uuid4().hex[:10]}@example.com"
    response = client.post(
        "/api/user", json={"email": email, "password": PASSWORD, "timezone": timezone}
    )
    assert response.status_code == 200, response.text
    client.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
    client.headers["X-Test-Email"] = email
    return client


def email_of(client: httpx.Client) -> str:
    return client.headers["X-Test-Email"]


def add_tasks(client: httpx.Client, *titles: str) -> list[str]:
    ids = []
    for title in titles:
        response = client.post("/api/tasks", json={"title": title})
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return ids


def complete(client: httpx.Client, task_id: str) -> None:
    response = client.patch(f"/api/tasks/{task_id}", json={"status": "done"})
    assert response.status_code == 200, response.text


def make_digest(stack: Stack, at: datetime) -> str:
    """`make digest AT=...` with the stack's configuration, as an operator runs it."""
    environment = {**os.environ, **stack.environment}
    environment["PATH"] = f"{Path(sys.executable).parent}:{environment['PATH']}"
    make = shutil.which("make")
    assert make is not None
    result = subprocess.run(
        [make, "--no-print-directory", "digest", f"AT={at.isoformat()}"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
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
    utc = register(stack, "UTC")
    kiritimati = register(stack, "Pacific/Kiritimati")
    idle = register(stack, "UTC")
    first, _, _ = add_tasks(utc, "Buy milk", "Write the <report>", "Call Bob")
    complete(utc, first)
    [island_task] = add_tasks(kiritimati, "Swim")
    complete(kiritimati, island_task)
    now = datetime.now(UTC)

    # The next UTC midnight plus a minute: one mail for the UTC user, with the titles.
    at = next_midnight(ZoneInfo("UTC"), now) + timedelta(minutes=1)
    make_digest(stack, at)
    [mail] = wait_for_digests(stack, email_of(utc), 1)
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
    assert len(wait_for_digests(stack, email_of(utc), 2)) == 1

    # Kiritimati's midnight was not at that instant; nobody without tasks gets anything.
    assert digests_to(stack, email_of(kiritimati)) == []
    assert digests_to(stack, email_of(idle)) == []

    # Kiritimati (UTC+14) gets theirs at its own midnight.
    island_at = next_midnight(ZoneInfo("Pacific/Kiritimati"), now) + timedelta(minutes=1)
    make_digest(stack, island_at)
    [island_mail] = wait_for_digests(stack, email_of(kiritimati), 1)
    assert "You completed 1 task today" in text_of(island_mail)
    assert "Swim" in text_of(island_mail)
    assert "unfinished" not in text_of(island_mail)
    assert digests_to(stack, email_of(idle)) == []


def test_one_click_unsubscribe_stops_the_digest(stack: Stack, register: Register) -> None:
    user = register(stack, "UTC")
    add_tasks(user, "Water the plants")
    now = datetime.now(UTC)
    at = next_midnight(ZoneInfo("UTC"), now) + timedelta(minutes=2)
    make_digest(stack, at)
    [mail] = wait_for_digests(stack, email_of(user), 1)

    # What a mail client does with List-Unsubscribe-Post (RFC 8058): a POST, no cookies.
    link = str(mail["List-Unsubscribe"]).strip("<>")
    assert link.startswith(f"{stack.gateway}/api/user/unsubscribe?token=")
    page = httpx.get(link)
    assert page.status_code == 200
    assert "<form" in page.text
    assert recipient_digest_enabled(email_of(user)) is True  # a GET changes nothing
    response = httpx.post(
        link,
        content="List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded", "Origin": "null"},
    )
    assert response.status_code == 200
    assert user.get("/api/user").json()["digest_enabled"] is False

    deadline = time.monotonic() + 10
    while recipient_digest_enabled(email_of(user)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert recipient_digest_enabled(email_of(user)) is False
    make_digest(stack, at + timedelta(days=1))
    assert len(wait_for_digests(stack, email_of(user), 2)) == 1

    tampered = link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB")
    refused = httpx.post(tampered)
    assert refused.status_code == 400
    assert "not valid" in refused.json()["message"]
    assert urlsplit(link).query.startswith("token=")


@pytest.mark.parametrize("timezone", ["Europe/Berlin", "Not/AZone"])
def test_preferences_change_through_the_gateway(
    stack: Stack, register: Register, timezone: str
) -> None:
    user = register(stack, "UTC")
    response = user.patch("/api/user", json={"timezone": timezone, "digest_enabled": False})
    if timezone == "Not/AZone":
        assert response.status_code == 422
        assert "timezone" in response.json()["message"].lower() or response.json()["errors"]
        return
    assert response.status_code == 200, response.text
    assert response.json()["timezone"] == timezone
    assert response.json()["digest_enabled"] is False
