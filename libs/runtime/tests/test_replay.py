"""Replaying dead-lettered events, against the real RabbitMQ test vhost: a queue of the
test's own, bound like a consumer's, dead-letters events into its ``.dead-letter`` queue."""

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import aio_pika
import pytest
from aio_pika.abc import AbstractChannel, AbstractQueue

from tracker_contracts import Envelope, TaskCompleted
from tracker_contracts.messaging import DEAD_LETTER_EXCHANGE, EVENTS_EXCHANGE
from tracker_runtime.replay import NotReplayable, replay

ROUTING_KEY = "task.completed"  # the test's queue gets it (the notifier's, unconsumed here, too)


@dataclass
class Consumer:
    channel: AbstractChannel
    queue: AbstractQueue
    dead_letter: AbstractQueue


@pytest.fixture
async def consumer() -> AsyncIterator[Consumer]:
    name = f"replay-test.{uuid.uuid4().hex}"
    connection = await aio_pika.connect(os.environ["RABBITMQ_URL"])
    async with connection:
        channel = await connection.channel()
        dead_letter = await channel.declare_queue(f"{name}.dead-letter")
        await dead_letter.bind(DEAD_LETTER_EXCHANGE, routing_key=name)
        queue = await channel.declare_queue(
            name,
            arguments={
                "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
                "x-dead-letter-routing-key": name,
            },
        )
        await queue.bind(EVENTS_EXCHANGE, routing_key=ROUTING_KEY)
        try:
            yield Consumer(channel, queue, dead_letter)
        finally:
            await queue.delete(if_unused=False, if_empty=False)
            await dead_letter.delete(if_unused=False, if_empty=False)


async def dead_letter_events(consumer: Consumer, count: int) -> list[str]:
    """Publish ``count`` events as the relay does, and reject each in the consumer's queue;
    their message ids, once they all are in its dead-letter queue."""
    exchange = await consumer.channel.get_exchange(EVENTS_EXCHANGE)
    ids = []
    for _ in range(count):
        envelope = Envelope.wrap(
            TaskCompleted(
                task_id=uuid.uuid4(),
                user_id=uuid.uuid4(),
                title="Water the plants",
                completed_at=datetime.now(UTC),
            )
        )
        ids.append(str(envelope.event_id))
        await exchange.publish(
            aio_pika.Message(
                envelope.model_dump_json().encode(),
                message_id=str(envelope.event_id),
                content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                headers={"event_type": ROUTING_KEY, "x-request-id": "req-1"},
            ),
            routing_key=ROUTING_KEY,
        )
        message = await next_message(consumer.queue)
        await message.reject(requeue=False)
    async with asyncio.timeout(5):
        while (await consumer.dead_letter.declare()).message_count != count:
            await asyncio.sleep(0.05)
    return ids


async def next_message(queue: AbstractQueue) -> aio_pika.abc.AbstractIncomingMessage:
    async with asyncio.timeout(5):
        while (message := await queue.get(fail=False)) is None:
            await asyncio.sleep(0.02)
    return message


async def test_a_dead_lettered_event_goes_back_as_it_was_first_published(
    consumer: Consumer,
) -> None:
    [event_id] = await dead_letter_events(consumer, 1)

    moved = await replay(os.environ["RABBITMQ_URL"], consumer.dead_letter.name)

    assert moved == 1
    again = await next_message(consumer.queue)
    assert again.message_id == event_id
    assert again.routing_key == ROUTING_KEY
    assert again.exchange == EVENTS_EXCHANGE
    assert again.content_type == "application/json"
    assert again.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    assert again.headers == {"event_type": ROUTING_KEY, "x-request-id": "req-1"}
    await again.ack()
    assert (await consumer.dead_letter.declare()).message_count == 0


async def test_the_command_moves_at_most_its_limit(consumer: Consumer) -> None:
    ids = await dead_letter_events(consumer, 3)

    command = [sys.executable, "-m", "tracker_runtime.replay", consumer.dead_letter.name]
    done = await asyncio.to_thread(
        subprocess.run, [*command, "--limit", "2"], capture_output=True, text=True, check=False
    )

    assert done.returncode == 0, done.stderr
    assert "moved 2 messages" in done.stdout
    replayed = [(await next_message(consumer.queue)).message_id for _ in range(2)]
    assert replayed == ids[:2]
    left = await next_message(consumer.dead_letter)
    assert left.message_id == ids[2]


async def test_only_a_dead_letter_queue_is_replayed(consumer: Consumer) -> None:
    with pytest.raises(NotReplayable):
        await replay(os.environ["RABBITMQ_URL"], consumer.queue.name)
