"""RabbitMQ for tests and benchmarks: their own virtual hosts, and an observer queue bound
to ``tracker.events`` to watch what reaches the broker."""

import asyncio
import json
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import aio_pika
from aio_pika.abc import AbstractIncomingMessage

from tests.support import run
from tracker_contracts import EVENTS_EXCHANGE
from tracker_runtime.messaging import declare_topology, new_broker


def _vhost_reachable(url: str) -> bool:
    async def connect() -> None:
        connection = await aio_pika.connect(url, timeout=5)
        await connection.close()

    try:
        asyncio.run(connect())
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
        raise RuntimeError(f"RabbitMQ vhost {vhost!r} is missing and rabbitmqctl is not here")
    user = parts.username or "guest"
    run.add_vhost(vhost)
    subprocess.run(
        [rabbitmqctl, "-q", "set_permissions", "-p", vhost, user, ".*", ".*", ".*"], check=True
    )
    if not _vhost_reachable(url):
        raise RuntimeError(f"cannot reach RabbitMQ at {parts.hostname}:{parts.port}/{vhost}")


def purge_queues(url: str, names: list[str]) -> None:
    """Empty the named queues (those that exist) before a test run starts consuming them."""

    async def purge() -> None:
        connection = await aio_pika.connect(url)
        async with connection:
            for name in names:
                channel = await connection.channel()
                try:
                    queue = await channel.get_queue(name, ensure=True)
                except aio_pika.exceptions.ChannelClosed:
                    continue  # not declared yet
                await queue.purge()

    asyncio.run(purge())


@dataclass
class Observed:
    messages: list[AbstractIncomingMessage]

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(message.body) for message in self.messages]

    async def wait_for(self, count: int, timeout: float = 15.0) -> None:
        """Wait until at least ``count`` messages arrived (fails after ``timeout``)."""
        async with asyncio.timeout(timeout):
            while len(self.messages) < count:
                await asyncio.sleep(0.02)


@asynccontextmanager
async def observe_events(routing_key: str = "#") -> AsyncIterator[Observed]:
    """Collect every event published to ``tracker.events`` while the block runs."""
    url = os.environ["RABBITMQ_URL"]
    broker = new_broker(url)
    await broker.connect()
    await declare_topology(broker)
    await broker.stop()
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel()
        exchange = await channel.get_exchange(EVENTS_EXCHANGE)
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(exchange, routing_key=routing_key)
        observed = Observed([])

        async def collect(message: AbstractIncomingMessage) -> None:
            observed.messages.append(message)
            await message.ack()

        await queue.consume(collect)
        yield observed
    finally:
        await connection.close()
