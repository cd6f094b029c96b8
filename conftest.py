"""Settings shared by every test in the repository.

Tests talk to the machine's real RabbitMQ, but in a virtual host of their own, so that a
`make dev` stack running beside them never sees their events (and they never see its).
"""

import os

import pytest

from tests.support.rabbitmq import ensure_rabbitmq_vhost

TEST_RABBITMQ_URL = os.environ.setdefault(
    "TEST_RABBITMQ_URL", "amqp://guest:guest@localhost:5672/tracker-test"
)
os.environ["RABBITMQ_URL"] = TEST_RABBITMQ_URL


def pytest_sessionstart(session: pytest.Session) -> None:
    try:
        ensure_rabbitmq_vhost(TEST_RABBITMQ_URL)
    except RuntimeError as error:
        pytest.exit(str(error))
