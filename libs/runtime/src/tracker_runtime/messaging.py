"""The RabbitMQ side of every service: a FastStream broker that publishes with confirms and
returns, and the shared topology's exchanges and unrouted queue as the services use them.

The services never declare the shared topology (``tracker_contracts.messaging``): it is
declared by ``python -m tracker_runtime.provision`` with the administrator's credentials,
and their RabbitMQ users may not (``tracker_contracts.permissions``). So every entity here
is looked up only, by a passive declare, which needs no permission and fails with NOT_FOUND
when provisioning has not run (the caller retries and says so)."""

import asyncio

from faststream.rabbit import Channel, ExchangeType, RabbitBroker, RabbitExchange, RabbitQueue

from tracker_contracts.messaging import EXCHANGES, UNROUTED_QUEUE, ExchangeDeclaration


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
    """The exchange as the contract declares it, looked up (passively) on first use."""
    return RabbitExchange(
        declaration.name,
        type=ExchangeType(declaration.type),
        durable=True,
        arguments=declaration.arguments or None,
        declare=False,
    )


EXCHANGES_BY_NAME = {declaration.name: rabbit_exchange(declaration) for declaration in EXCHANGES}


UNROUTED = RabbitQueue(UNROUTED_QUEUE, declare=False)
"""The unrouted queue of the shared topology (only looked up here)."""


async def unrouted_depth(broker: RabbitBroker) -> int:
    """How many events wait in the unrouted queue; quick to give up (it serves /readyz),
    ``TimeoutError`` after a second, the broker's channel included (a robust connection
    that is reconnecting would hold a first lookup until it is back).
    A passive declare: it counts the messages without any permission on the queue."""
    async with asyncio.timeout(1.0):
        queue = await broker.declare_queue(UNROUTED)
        declared = await queue.declare(timeout=1.0)
    return declared.message_count or 0
