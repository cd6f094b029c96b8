"""Registering through the gateway sends one welcome mail through the real broker, worker
and SMTP server, as `make dev` runs them."""

import time
import uuid

import httpx

from tests.conftest import Stack


def test_registering_sends_one_welcome_mail(stack: Stack) -> None:
    email = f"welcome-{uuid.uuid4().hex[:10]}@example.com"

    response = httpx.post(
        f"{stack.gateway}/api/user", json={"email": email, "password": "correct horse battery"}
    )
    assert response.status_code == 200

    deadline = time.monotonic() + 20
    while not stack.mails_to(email) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)  # room for a duplicate to show up, if there were one
    [mail] = stack.mails_to(email)
    assert "Welcome" in str(mail["Subject"])
    assert mail["Message-ID"]
    assert mail["Date"]
    assert mail.get_body(preferencelist=("plain",)) is not None
    assert mail.get_body(preferencelist=("html",)) is not None
