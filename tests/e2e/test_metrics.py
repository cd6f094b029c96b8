"""Every process of `make dev` serves its Prometheus metrics on its own port, none of them
through the gateway, and the notifier's count what it did: a registration's welcome mail."""

import time
import uuid

import httpx
import pytest

from devsupport.accounts import PASSWORD
from tests.conftest import Stack
from tests.support.metrics import scraped

PROMETHEUS_TEXT = "text/plain"


def metrics_of(url: str) -> str:
    response = httpx.get(url, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(PROMETHEUS_TEXT)
    return response.text


@pytest.mark.parametrize(
    ("process", "metric"),
    [
        ("auth", "tracker_http_requests_total"),
        ("tasks", "tracker_live_streams"),
        ("notifier", "tracker_digest_users_total"),
        ("scheduler", "tracker_scheduler_ticks_sent_total"),
    ],
)
def test_every_process_serves_its_metrics(stack: Stack, process: str, metric: str) -> None:
    if process in {"auth", "tasks"}:
        url = f"{stack.url(process)}/metrics"
    else:
        url = stack.metrics_url(process)

    text = metrics_of(url)

    assert f"# TYPE {metric} " in text


@pytest.mark.parametrize(
    "path", ["/metrics", "/api/metrics", "/api/tasks/metrics", "/api/user/metrics"]
)
def test_no_metrics_are_served_through_the_gateway(stack: Stack, path: str) -> None:
    response = httpx.get(f"{stack.gateway}{path}", timeout=10)

    assert response.status_code in {401, 404, 405}, response.text
    assert "tracker_" not in response.text
    assert not response.headers["content-type"].startswith(PROMETHEUS_TEXT)


def test_a_registrations_welcome_mail_is_counted_as_sent(stack: Stack) -> None:
    url = stack.metrics_url("notifier")
    before = scraped(metrics_of(url), "tracker_mails_sent_total", kind="welcome")
    email = f"counted-{uuid.uuid4().hex[:10]}@example.com"

    response = httpx.post(f"{stack.gateway}/api/user", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text

    deadline = time.monotonic() + 30
    while scraped(metrics_of(url), "tracker_mails_sent_total", kind="welcome") < before + 1:
        assert time.monotonic() < deadline, "the welcome mail was not counted in 30 s"
        time.sleep(0.2)
    assert len(stack.mails_to(email)) == 1
