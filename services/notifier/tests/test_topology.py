"""The notifier's kombu declarations against the aio-pika ones of the other services: any
difference in type, durability or arguments would make RabbitMQ refuse one of them."""

import os
from typing import Any

import pytest

from tracker_contracts.messaging import (
    CONSUMER_QUEUES,
    EXCHANGES,
    QUEUES,
    RETIRED_QUEUES,
    ConsumerQueue,
)
from tracker_runtime import kombu_topology as topology
from tracker_runtime.messaging import declare_topology as declare_with_aio_pika
from tracker_runtime.messaging import new_broker

from .support import broker


async def test_declarations_match_the_other_services() -> None:
    aio = new_broker(os.environ["RABBITMQ_URL"])
    await aio.connect()
    try:
        await declare_with_aio_pika(aio)
        with broker() as connection:
            topology.declare_topology(connection.default_channel)
        await declare_with_aio_pika(aio)  # and the other way round
    finally:
        await aio.stop()


def test_the_shared_part_is_exactly_the_contract() -> None:
    exchanges: list[Any] = list(topology.EXCHANGES_BY_NAME.values())  # untyped attributes
    assert [
        (exchange.name, exchange.type, exchange.durable, exchange.arguments or {})
        for exchange in exchanges
    ] == [(e.name, e.type, True, e.arguments) for e in EXCHANGES]
    queues: list[Any] = list(topology.SHARED_QUEUES)
    assert [
        (
            queue.name,
            queue.durable,
            queue.queue_arguments,
            sorted((b.exchange.name, b.routing_key) for b in queue.bindings),
        )
        for queue in queues  # kombu keeps a queue's bindings in a set: their order varies
    ] == [(q.name, True, q.arguments, sorted(q.bindings)) for q in QUEUES]


@pytest.mark.parametrize("queue", CONSUMER_QUEUES, ids=lambda queue: queue.name)
def test_every_consumer_queue_has_its_dead_letter_queue(queue: ConsumerQueue) -> None:
    names = {declared.name for declared in topology.SHARED_QUEUES}
    assert {queue.name, queue.dead_letter_queue} <= names


def test_the_task_queue_is_a_quorum_queue_that_dead_letters() -> None:
    arguments = topology.TASK_QUEUE_ARGUMENTS
    assert arguments["x-queue-type"] == "quorum"
    assert arguments["x-dead-letter-exchange"] == "tracker.dead-letter"
    assert arguments["x-dead-letter-routing-key"] == topology.TASK_QUEUE.name
    assert topology.TASK_EXCHANGE.type == "topic"  # native delayed delivery needs it


def test_the_old_unbounded_unrouted_queue_is_retired_here_too() -> None:
    """kombu deletes what the aio-pika declaration deletes: the unbounded queue of old."""
    with broker() as connection:
        channel = connection.default_channel
        for retired in RETIRED_QUEUES:
            channel.queue_declare(retired, durable=True, arguments={"x-queue-type": "classic"})
        topology.declare_topology(channel)

    with broker() as connection:
        for retired in RETIRED_QUEUES:
            with pytest.raises(connection.channel_errors):
                connection.channel().queue_declare(retired, passive=True)
    assert RETIRED_QUEUES
