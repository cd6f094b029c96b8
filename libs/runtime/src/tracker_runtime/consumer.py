"""The FastStream adapter of a service's subscriptions (``tracker_contracts.subscriptions``):
consumes their queue inside the service process and hands each event to its handler in a
database transaction. Everything about *what* is consumed comes from the subscriptions;
this module only settles messages and sets the concurrency.

Every replica consumes from the one durable queue, which hands each event to one replica
only. The service starts and serves without RabbitMQ: the subscriber connects in the
background and keeps trying, and ``/readyz`` reports its state.

Messages are settled by hand: handled and committed → ack; malformed, of another version,
or of an event type the subscriptions do not handle → reject without requeue, so the queue
dead-letters it. While the database is unreachable the message is held, unsettled, and the
transaction retried in process with backoff: every requeue would spend one of the queue's
DELIVERY_LIMIT deliveries, so a few seconds' outage would dead-letter the event. Held
messages fill the prefetch window, so the consumer takes no more until the database is
back. Any other error requeues after a pause, and the delivery limit dead-letters a message
that never succeeds (``python -m tracker_runtime.replay`` puts it back once fixed).

Handlers are idempotent: an event may be delivered again (a natural key or an inbox).

Metrics (``tracker_runtime.metrics``), by queue and event type: events consumed, attempts
that failed (requeued), redeliveries, and events the consumer dead-lettered, the last
attempt before RabbitMQ's delivery limit included.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from typing import Any

from faststream.message import StreamMessage
from faststream.middlewares import AckPolicy
from faststream.rabbit import Channel, RabbitQueue
from faststream.rabbit.annotations import RabbitMessage
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from tracker_contracts import Envelope, EventData, InvalidEvent
from tracker_contracts.messaging import DELIVERY_LIMIT
from tracker_contracts.subscriptions import Subscriptions
from tracker_runtime.background import BackgroundLoops
from tracker_runtime.backoff import Stopped, retrying
from tracker_runtime.database import Database
from tracker_runtime.messaging import new_broker
from tracker_runtime.metrics import (
    EVENTS_CONSUMED,
    EVENTS_DEAD_LETTERED,
    EVENTS_FAILED,
    EVENTS_REDELIVERED,
    UNKNOWN_EVENT_TYPE,
)

AsyncSubscriptions = Subscriptions[AsyncSession, Awaitable[None]]
"""Subscriptions whose handlers take the transaction's session and are awaited."""

PREFETCH = 20
RETRY_PAUSE_SECONDS = 1.0
DELIVERY_COUNT_HEADER = "x-delivery-count"
"""How often a quorum queue has handed this message out before (absent the first time)."""


class BrokerUnavailable(ConnectionError):
    pass


def database_unreachable(error: Exception) -> bool:
    """Whether ``error`` says the database is away (refused, dropped, shutting down) rather
    than that this write is wrong: only the first is worth holding a message for."""
    if isinstance(error, (OSError, TimeoutError, InterfaceError, OperationalError)):
        return True
    return isinstance(error, DBAPIError) and error.connection_invalidated


async def _raw_body(message: StreamMessage[Any]) -> bytes:
    """Hand the handler the bytes as they came: validation is the subscriptions' job, and a
    body that is not even JSON must be rejected like any other malformed event."""
    return message.body


class EventConsumer:
    """Consumes ``subscriptions.queue``; ``start`` and ``stop`` it with the service."""

    def __init__(
        self,
        subscriptions: AsyncSubscriptions,
        *,
        database: Database,
        rabbitmq_url: str,
        max_backoff: float = 30.0,
        prefetch: int = PREFETCH,
    ) -> None:
        self._subscriptions = subscriptions
        self._queue = subscriptions.queue.name
        self._database = database
        self._max_backoff = max_backoff
        self._logger = logging.getLogger(f"tracker.consumer.{self._queue}")
        self._broker = new_broker(rabbitmq_url)
        # The queue is the shared topology's, declared with its pinned arguments by
        # provisioning; the subscriber only attaches to it (a passive declare, which
        # cannot disagree with it and needs no permission but the read to consume).
        self._broker.subscriber(
            RabbitQueue(self._queue, declare=False),
            channel=Channel(prefetch_count=prefetch),
            ack_policy=AckPolicy.MANUAL,
            decoder=_raw_body,
            no_reply=True,
            title=self._queue,
            description=", ".join(sorted(subscriptions.queue.routing_keys)),
        )(self.handle)
        self._loops = BackgroundLoops()
        self._subscribed = False
        self._stopping = asyncio.Event()
        self._held = 0

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        self._stopping.clear()
        self._loops.start({f"subscribe-{self._queue}": self._subscribe()})

    async def stop(self) -> None:
        self._stopping.set()  # held messages go back to the queue with the channel
        await self._loops.cancel()
        self._subscribed = False
        with contextlib.suppress(Exception):
            await self._broker.stop()

    async def _subscribe(self) -> None:
        """Connect and start the subscriber; retry with backoff until it works (the service
        must outlive any broker outage, and a queue not provisioned yet). After that,
        aio-pika's robust connection reconnects and resubscribes."""

        async def subscribe() -> None:
            await self._broker.connect()
            await self._broker.start()

        async def note(error: Exception, _failures: int, delay: float) -> None:
            self._logger.warning(
                "cannot subscribe to %s, retrying in %.1fs: %s: %s",
                self._queue,
                delay,
                type(error).__name__,
                error,
            )
            with contextlib.suppress(Exception):
                await self._broker.stop()

        await retrying(subscribe, on_failure=note, cap=self._max_backoff)
        self._subscribed = True
        self._logger.info("subscribed to %s", self._queue)

    async def readiness(self) -> dict[str, Any]:
        """Details for ``/readyz``; raises while the subscriber is not consuming."""
        if not self._subscribed or not await self._broker.ping(timeout=0.2):
            raise BrokerUnavailable("not subscribed")
        return {"queue": self._queue, "held_for_database": self._held}

    # -- messages ----------------------------------------------------------------------

    def _event_type(self, message: RabbitMessage) -> str:
        """The label of a message: its routing key when the queue is bound to it (never a
        value a producer made up), else ``unknown``."""
        key = getattr(message.raw_message, "routing_key", None)
        return key if key in self._subscriptions.queue.routing_keys else UNKNOWN_EVENT_TYPE

    async def handle(self, body: bytes, message: RabbitMessage) -> None:
        labels = (self._queue, self._event_type(message))
        if getattr(message.raw_message, "redelivered", False):
            EVENTS_REDELIVERED.labels(*labels).inc()
        try:
            envelope = self._subscriptions.validate(body, message.headers or {})
        except InvalidEvent as error:
            self._logger.warning(
                "invalid event dead-lettered: %s", error, extra={"message_id": message.message_id}
            )
            EVENTS_DEAD_LETTERED.labels(*labels).inc()
            await message.reject(requeue=False)
            return
        about = {"event_id": str(envelope.event_id), "event_type": envelope.event_type.value}
        try:
            handled = await self._handle_while_reachable(envelope, about)
        except Exception as error:  # not an outage: let the delivery limit decide
            self._logger.warning(
                "cannot handle an event, requeueing: %s: %s",
                type(error).__name__,
                error,
                extra=about,
            )
            EVENTS_FAILED.labels(*labels).inc()
            if _last_delivery(message):
                EVENTS_DEAD_LETTERED.labels(*labels).inc()
            await asyncio.sleep(RETRY_PAUSE_SECONDS)
            await message.nack(requeue=True)
            return
        if not handled:  # stopping: the closing channel returns the message to the queue
            return
        await message.ack()
        EVENTS_CONSUMED.labels(*labels).inc()

    async def _handle_while_reachable(
        self, envelope: Envelope[EventData], about: dict[str, str]
    ) -> bool:
        """Handle the event in one transaction, retrying with backoff for as long as the
        database is unreachable; False when the consumer stops first. Other errors
        propagate."""

        async def attempt() -> None:
            async with self._database.sessions.begin() as session:
                await self._subscriptions.dispatch(session, envelope)

        held = False

        def note(error: Exception, _failures: int, delay: float) -> None:
            nonlocal held
            if not held:
                held = True
                self._held += 1
            self._logger.warning(
                "database unreachable, holding an event, retrying in %.1fs: %s: %s",
                delay,
                type(error).__name__,
                error,
                extra=about,
            )

        try:
            await retrying(
                attempt,
                on_failure=note,
                is_retryable=database_unreachable,
                cap=self._max_backoff,
                stop=self._stopping,
            )
        except Stopped:
            return False
        finally:
            if held:
                self._held -= 1
        return True


def _last_delivery(message: RabbitMessage) -> bool:
    """Whether RabbitMQ dead-letters this message rather than deliver it again once it is
    returned: it has been handed out ``DELIVERY_LIMIT`` times before."""
    count = (message.headers or {}).get(DELIVERY_COUNT_HEADER, 0)
    return isinstance(count, int) and count >= DELIVERY_LIMIT
