"""Fixtures: the notifier's queue for ticks in a RabbitMQ virtual host of the scheduler
tests' own, declared as provisioning declares it and emptied before every test.

Another test stack runs notifier workers on ``notifier.ticks`` in the shared test virtual
host; they would take the ticks these tests send, so the scheduler tests never use it.
"""

import os
import time
from typing import Any

import pytest
from kombu.connection import Connection

from devsupport.rabbitmq import ensure_rabbitmq_vhost
from tracker_runtime.kombu_topology import TICK_QUEUE

SCHEDULER_RABBITMQ_URL = os.environ["SCHEDULER_TEST_RABBITMQ_URL"]


def broker(url: str) -> Any:
    """A kombu connection (kombu is unannotated: typed as Any)."""
    return Connection(url)


@pytest.fixture(scope="session")
def rabbitmq_url() -> str:
    ensure_rabbitmq_vhost(SCHEDULER_RABBITMQ_URL)
    return SCHEDULER_RABBITMQ_URL


@pytest.fixture
def task_queue(rabbitmq_url: str) -> str:
    """The notifier's queue for ticks, as provisioning declares it, and empty."""
    with broker(rabbitmq_url) as connection:
        connection.default_channel.queue_purge(TICK_QUEUE.name)
    return TICK_QUEUE.name


def take_message(url: str, *, timeout: float = 10.0) -> Any:
    """The next message on the queue for ticks, removed from it; fails after ``timeout``."""
    deadline = time.monotonic() + timeout
    with broker(url) as connection:
        queue = TICK_QUEUE(connection.default_channel)
        while True:
            message = queue.get(no_ack=True, accept=["json"])
            if message is not None:
                return message
            if time.monotonic() > deadline:
                raise AssertionError(f"no message on {TICK_QUEUE.name} after {timeout:.0f}s")
            time.sleep(0.05)


def queue_depth(url: str) -> int:
    with broker(url) as connection:
        _, messages, _ = connection.default_channel.queue_declare(TICK_QUEUE.name, passive=True)
        return int(messages)
