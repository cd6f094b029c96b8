"""An observer queue bound to ``tracker.events``, to watch what reaches the broker (the
tests' own virtual hosts, with the shared topology in them, are made by
:mod:`devsupport.rabbitmq`)."""

import asyncio
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage

from tracker_contracts import EVENTS_EXCHANGE


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
