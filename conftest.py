"""Settings shared by every test in the repository.

Tests talk to the machine's real PostgreSQL and RabbitMQ, in databases and a virtual host
named after the run (``tests.support.run``): a `make dev` stack or another `make test`
running beside them never sees their data or their events, and they never see its. The run
drops them when it ends. A variable already set in the environment wins (to point one
suite at a database of one's choosing).
"""

import os

import pytest

from devsupport.rabbitmq import ensure_rabbitmq_vhost
from tests.support import run

for variable, value in run.environment().items():
    os.environ.setdefault(variable, value)
TEST_RABBITMQ_URL = os.environ["TEST_RABBITMQ_URL"]
os.environ["RABBITMQ_URL"] = TEST_RABBITMQ_URL


def pytest_sessionstart(session: pytest.Session) -> None:
    run.drop(this_run=False, abandoned=True)
    try:
        ensure_rabbitmq_vhost(TEST_RABBITMQ_URL)
    except RuntimeError as error:
        pytest.exit(str(error))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    run.drop()
