"""Put dead-lettered events back on ``tracker.events``, once whatever failed them is fixed:

    python -m tracker_runtime.replay tasks.events.dead-letter [--limit N]

Each message is republished with its original routing key (its event type), body,
``message_id`` and headers, waits for the broker's confirm, and only then is acked in the
dead-letter queue: a message is never lost, at worst published twice, which idempotent
consumers ignore. The broker's dead-lettering records (``x-death`` and the like) are left
behind, so that a replayed event starts with its full delivery limit again. Every queue
bound to the event type gets it again, not only the one that dead-lettered it.
"""

import argparse
import asyncio
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from aio_pika.abc import AbstractIncomingMessage
from faststream.rabbit import RabbitQueue

from tracker_contracts.messaging import EVENTS_EXCHANGE
from tracker_runtime.messaging import EXCHANGES_BY_NAME, new_broker

DEAD_LETTER_SUFFIX = ".dead-letter"
DEFAULT_RABBITMQ_URL = "amqp://guest:guest@localhost:5672/"
BROKER_HEADERS = ("x-death", "x-first-death-", "x-last-death-", "x-delivery-count")
"""Headers (or their prefixes) that RabbitMQ wrote while dead-lettering the message."""


class NotReplayable(ValueError):
    pass


def _original_routing_key(message: AbstractIncomingMessage) -> str:
    """The event type the message was first published with: the relay's ``event_type``
    header, else the first routing key the broker recorded when it dead-lettered it."""
    headers: Mapping[str, Any] = message.headers or {}
    event_type = headers.get("event_type")
    if isinstance(event_type, bytes):
        event_type = event_type.decode()
    if isinstance(event_type, str) and event_type:
        return event_type
    deaths = headers.get("x-death")
    if isinstance(deaths, list) and deaths and isinstance(deaths[0], dict):
        keys = deaths[0].get("routing-keys")
        if isinstance(keys, list) and keys:
            key = keys[0]
            return key.decode() if isinstance(key, bytes) else str(key)
    raise NotReplayable(f"message {message.message_id!r} names no event type")


def _application_headers(message: AbstractIncomingMessage) -> dict[str, Any]:
    return {
        name: value
        for name, value in (message.headers or {}).items()
        if not name.startswith(BROKER_HEADERS)
    }


async def replay(url: str, queue_name: str, *, limit: int | None = None) -> int:
    """Move up to ``limit`` messages (all those there at the start by default) from the
    dead-letter queue ``queue_name`` to ``tracker.events``; how many were moved."""
    if not queue_name.endswith(DEAD_LETTER_SUFFIX):
        raise NotReplayable(f"{queue_name!r} is not a dead-letter queue")
    broker = new_broker(url)
    await broker.connect()
    try:
        queue = await broker.declare_queue(RabbitQueue(queue_name, declare=False))
        waiting = queue.declaration_result.message_count or 0
        # Never more than were there at the start: an event its consumer rejects again
        # comes straight back to this queue and would otherwise be replayed forever.
        budget = waiting if limit is None else min(limit, waiting)
        moved = 0
        while moved < budget:
            message = await queue.get(no_ack=False, fail=False)
            if message is None:
                break
            try:
                routing_key = _original_routing_key(message)
            except NotReplayable:
                await message.nack(requeue=True)
                raise
            await broker.publish(
                message.body,
                exchange=EXCHANGES_BY_NAME[EVENTS_EXCHANGE],
                routing_key=routing_key,
                mandatory=True,
                persist=True,
                message_id=message.message_id,
                correlation_id=message.correlation_id,
                content_type=message.content_type,
                content_encoding=message.content_encoding,
                timestamp=message.timestamp,
                headers=_application_headers(message),
            )
            await message.ack()
            moved += 1
        return moved
    finally:
        await broker.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tracker_runtime.replay",
        description="Move dead-lettered events back to tracker.events.",
    )
    parser.add_argument("queue", help="a dead-letter queue, e.g. tasks.events.dead-letter")
    parser.add_argument("--limit", type=int, default=None, help="move at most this many")
    parser.add_argument(
        "--url",
        default=os.environ.get("RABBITMQ_URL", DEFAULT_RABBITMQ_URL),
        help="the broker (default: $RABBITMQ_URL)",
    )
    arguments = parser.parse_args(argv)
    try:
        moved = asyncio.run(replay(arguments.url, arguments.queue, limit=arguments.limit))
    except NotReplayable as error:
        print(f"replay stopped: {error}", file=sys.stderr)
        return 1
    print(f"moved {moved} messages from {arguments.queue} to {EVENTS_EXCHANGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
