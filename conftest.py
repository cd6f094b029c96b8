"""Settings shared by every test in the repository.

Tests talk to the machine's real RabbitMQ, but in a virtual host of their own, so that a
`make dev` stack running beside them never sees their events (and they never see its).
"""

import os
import shutil
import subprocess
from urllib.parse import unquote, urlsplit

import pytest
from kombu import Connection

TEST_RABBITMQ_URL = os.environ.setdefault(
    "TEST_RABBITMQ_URL", "amqp://guest:guest@localhost:5672/tracker-test"
)
os.environ["RABBITMQ_URL"] = TEST_RABBITMQ_URL


def _vhost_reachable(url: str) -> bool:
    try:
        with Connection(url, connect_timeout=5) as connection:
            connection.ensure_connection(max_retries=1)
    except Exception:
        return False
    return True


def ensure_rabbitmq_vhost(url: str) -> None:
    """Create the test virtual host with rabbitmqctl when it does not exist yet."""
    if _vhost_reachable(url):
        return
    parts = urlsplit(url)
    vhost = unquote(parts.path.lstrip("/")) or "/"
    rabbitmqctl = shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"
    if not os.path.exists(rabbitmqctl):
        pytest.exit(f"RabbitMQ virtual host {vhost!r} is missing and rabbitmqctl is not here")
    user = parts.username or "guest"
    subprocess.run([rabbitmqctl, "-q", "add_vhost", vhost], check=False)
    subprocess.run(
        [rabbitmqctl, "-q", "set_permissions", "-p", vhost, user, ".*", ".*", ".*"], check=True
    )
    if not _vhost_reachable(url):
        pytest.exit(f"cannot reach RabbitMQ at {parts.hostname}:{parts.port}/{vhost}")


def pytest_sessionstart(session: pytest.Session) -> None:
    ensure_rabbitmq_vhost(TEST_RABBITMQ_URL)
