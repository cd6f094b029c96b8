"""The RabbitMQ side of every service: a FastStream broker that publishes with confirms and
returns, and the declaration of the shared topology (see ``tracker_contracts.messaging``)."""

from typing import Any, cast

from faststream.rabbit import Channel, ExchangeType, RabbitBroker, RabbitExchange, RabbitQueue

from tracker_contracts.messaging import (
    EXCHANGES,
    QUEUES,
    RETIRED_QUEUES,
    UNROUTED_QUEUE,
    ExchangeDeclaration,
)


def new_broker(url: str) -> RabbitBroker:
    """A broker whose publishes wait for the broker's confirm and raise when a mandatory
    message is returned, so that "published" always means "stored by RabbitMQ"."""
    return RabbitBroker(
        url,
        default_channel=Channel(publisher_confirms=True, on_return_raises=True),
        fail_fast=True,
        reconnect_interval=2.0,
        log_level=10,
    )


def rabbit_exchange(declaration: ExchangeDeclaration) -> RabbitExchange:
    return RabbitExchange(
        declaration.name,
        type=ExchangeType(declaration.type),
        durable=True,
        arguments=declaration.arguments or None,
    )


EXCHANGES_BY_NAME = {declaration.name: rabbit_exchange(declaration) for declaration in EXCHANGES}


UNROUTED = RabbitQueue(UNROUTED_QUEUE, declare=False)
"""The unrouted queue, as declared by :func:`declare_topology` (only looked up here)."""


async def declare_topology(broker: RabbitBroker) -> None:
    """Declare every exchange, queue and binding, and delete the retired queues;
    idempotent, safe from every replica."""
    exchanges = {
        name: await broker.declare_exchange(exchange)
        for name, exchange in EXCHANGES_BY_NAME.items()
    }
    for declaration in QUEUES:
        queue = await broker.declare_queue(
            # The arguments carry x-queue-type themselves; FastStream types them per kind.
            RabbitQueue(
                declaration.name, durable=True, arguments=cast("Any", declaration.arguments)
            )
        )
        for exchange, routing_key in declaration.bindings:
            await queue.bind(exchanges[exchange], routing_key=routing_key)
    channel = (await broker.declare_queue(UNROUTED)).channel
    for retired in RETIRED_QUEUES:
        # Deleting a queue that does not exist succeeds: nothing to check first.
        await channel.queue_delete(retired)


async def unrouted_depth(broker: RabbitBroker) -> int:
    """How many events wait in the unrouted queue; quick to give up (it serves /readyz)."""
    queue = await broker.declare_queue(UNROUTED)
    declared = await queue.declare(timeout=1.0)
    return declared.message_count or 0
