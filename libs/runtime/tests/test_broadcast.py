"""Per-process queues, on the real RabbitMQ test vhost: every replica's consumer gets every
event bound, its queue goes with its connection, and a subscription after a lost
connection is announced as a reconnection."""

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

import aio_pika
import aiormq
import pytest

from tests.support.tcp_proxy import TcpProxy
from tracker_contracts import Envelope, SessionRevoked, UserDeleted
from tracker_contracts.messaging import EVENTS_EXCHANGE, TASKS_EVENTS, ReplicaQueue
from tracker_contracts.subscriptions import Subscriptions, subscribe
from tracker_runtime.broadcast import ReplicaConsumer

QUEUE = ReplicaQueue(name="broadcast-test", events=(SessionRevoked,))

Heard = list[uuid.UUID]


async def heard(context: Heard, envelope: Envelope[SessionRevoked]) -> None:
    context.append(envelope.data.session_id)


async def ignored(context: Heard, envelope: Envelope[UserDeleted]) -> None:
    return


SUBSCRIPTIONS = Subscriptions[Heard, Awaitable[None]](QUEUE, (subscribe(SessionRevoked, heard),))


async def publish_revoked() -> uuid.UUID:
    data = SessionRevoked(
        session_id=uuid.uuid4(),
        user_id=uuid.uuid4(),
        expires_at=datetime.now(UTC) + timedelta(minutes=5),
    )
    connection = await aio_pika.connect(os.environ["RABBITMQ_URL"])
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(EVENTS_EXCHANGE)
        await exchange.publish(
            aio_pika.Message(
                Envelope.wrap(data).model_dump_json().encode(),
                headers={"event_version": data.VERSION},
            ),
            routing_key=data.EVENT_TYPE.value,
        )
    return data.session_id


async def eventually(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


async def queue_state(name: str) -> str:
    """``exclusive`` (another connection's), ``shared`` or ``absent``."""
    connection = await aio_pika.connect(os.environ["RABBITMQ_URL"])
    async with connection:
        channel = await connection.channel()
        try:
            await channel.declare_queue(name, passive=True)
        except aio_pika.exceptions.ChannelNotFoundEntity:
            return "absent"
        except aiormq.exceptions.ChannelLockedResource:
            return "exclusive"
        return "shared"


@pytest.fixture
async def replicas() -> AsyncIterator[tuple[ReplicaConsumer, Heard, Heard]]:
    first: Heard = []
    second: Heard = []
    consumers = [
        ReplicaConsumer(SUBSCRIPTIONS, context, rabbitmq_url=os.environ["RABBITMQ_URL"])
        for context in (first, second)
    ]
    for consumer in consumers:
        await consumer.start()
    await eventually(lambda: all(consumer.subscribed for consumer in consumers))
    yield consumers[0], first, second
    for consumer in consumers:
        await consumer.stop()


async def test_every_replica_hears_every_event(
    replicas: tuple[ReplicaConsumer, Heard, Heard],
) -> None:
    _, first, second = replicas
    sessions = [await publish_revoked() for _ in range(3)]
    await eventually(lambda: first == sessions and second == sessions)


async def test_the_queue_goes_with_its_process(
    replicas: tuple[ReplicaConsumer, Heard, Heard],
) -> None:
    consumer, _, _ = replicas
    assert consumer.queue_name.startswith("broadcast-test.")
    assert await queue_state(consumer.queue_name) == "exclusive"
    await consumer.stop()
    assert await queue_state(consumer.queue_name) == "absent"


def test_a_shared_queue_is_refused() -> None:
    shared = Subscriptions[Heard, Awaitable[None]](
        TASKS_EVENTS,
        (subscribe(SessionRevoked, heard), subscribe(UserDeleted, ignored)),
    )
    with pytest.raises(TypeError, match="not a per-process queue"):
        ReplicaConsumer(shared, [], rabbitmq_url=os.environ["RABBITMQ_URL"])


async def test_a_subscription_after_a_lost_connection_is_a_reconnection() -> None:
    proxy = TcpProxy("127.0.0.1", 5672)
    await proxy.start()
    connections: list[bool] = []
    received: Heard = []

    async def connected(reconnected: bool) -> None:
        connections.append(reconnected)

    consumer = ReplicaConsumer(
        SUBSCRIPTIONS,
        received,
        rabbitmq_url=proxy.through(os.environ["RABBITMQ_URL"]),
        on_connected=connected,
        max_backoff=0.5,
    )
    await consumer.start()
    try:
        await eventually(lambda: connections == [False])
        await proxy.cut()
        await eventually(lambda: not consumer.subscribed)
        await proxy.start()
        await eventually(lambda: connections == [False, True])
        session = await publish_revoked()
        await eventually(lambda: received == [session])
    finally:
        await consumer.stop()
        await proxy.cut()
