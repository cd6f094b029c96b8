"""The adapter of a per-process queue (``tracker_contracts.messaging.ReplicaQueue``): each
replica of a service declares a queue of its own, exclusive to its connection, bound to the
events its subscriptions list, and hands every event to its handler in process. Where
:class:`tracker_runtime.consumer.EventConsumer` makes one replica *do* something once per
event, this makes every replica *know* of it (the tasks service's live streams: whichever
replica holds a person's stream must hear of their changes).

Nothing is acknowledged (the broker forgets a message once it is sent), retried or
dead-lettered: a handler only touches the process's memory, and whatever a replica misses
while it is away from the broker, it learns of another way. So that it can, the consumer
calls ``on_connected(reconnected=True)`` each time it is subscribed again after a loss
(the live streams are told to reload), and ``on_lost()`` as soon as a loss is noticed.
The connection is its own, not aio-pika's robust
one, precisely so that the moment it comes back is known.
"""

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import aio_pika
from aio_pika.abc import AbstractConnection, AbstractIncomingMessage

from tracker_contracts import InvalidEvent
from tracker_contracts.messaging import EVENTS_EXCHANGE, ReplicaQueue
from tracker_contracts.subscriptions import Subscriptions
from tracker_runtime.background import BackgroundLoops
from tracker_runtime.backoff import retrying

ContextT = TypeVar("ContextT")

PREFETCH = 500
"""Messages in flight to this process at once: enough that one slow handler never makes
the broker wait, few enough that a stuck process does not hold many."""


def replica_name() -> str:
    """A name for this process among the service's replicas: its host (the pod's name on
    Kubernetes), its pid, and a random part (two processes of one container share a pid
    namespace across restarts)."""
    host = socket.gethostname().split(".")[0] or "host"
    return f"{host}.{os.getpid()}.{uuid.uuid4().hex[:8]}"


class ReplicaConsumer:
    """Consumes this process's own queue of ``subscriptions.queue`` (a :class:`ReplicaQueue`),
    handing each event to its handler with ``context``; ``start`` and ``stop`` it with the
    service. Handlers must be quick (in-memory work): they run one at a time."""

    def __init__(
        self,
        subscriptions: Subscriptions[ContextT, Awaitable[None]],
        context: ContextT,
        *,
        rabbitmq_url: str,
        on_connected: Callable[[bool], Awaitable[None]] | None = None,
        on_lost: Callable[[], None] | None = None,
        replica: str | None = None,
        max_backoff: float = 30.0,
    ) -> None:
        queue = subscriptions.queue
        if not isinstance(queue, ReplicaQueue):
            raise TypeError(f"{queue.name} is not a per-process queue")
        self._subscriptions = subscriptions
        self._context = context
        self._definition = queue
        self.queue_name = queue.queue_name(replica or replica_name())
        self._url = rabbitmq_url
        self._on_connected = on_connected
        self._on_lost = on_lost
        self._max_backoff = max_backoff
        self._logger = logging.getLogger(f"tracker.consumer.{queue.name}")
        self._loops = BackgroundLoops()
        self._connection: AbstractConnection | None = None
        self._lost = asyncio.Event()
        self.subscribed = False
        self.received_total = 0

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        self._loops.start({f"subscribe-{self._definition.name}": self._run()})

    async def stop(self) -> None:
        await self._loops.cancel()
        await self._close()

    async def readiness(self) -> dict[str, Any]:
        """Details for ``/readyz``; raises while not subscribed."""
        if not self.subscribed:
            raise ConnectionError("not subscribed")
        return {"queue": self.queue_name, "received": self.received_total}

    async def _run(self) -> None:
        """Subscribe, wait until the connection is lost, subscribe again; forever. Every
        subscription after the first is announced as a reconnection."""
        connected_before = False
        while True:
            await retrying(self._subscribe, on_failure=self._note_failure, cap=self._max_backoff)
            self.subscribed = True
            self._logger.info("subscribed to %s", self.queue_name)
            if self._on_connected is not None:
                try:
                    await self._on_connected(connected_before)
                except Exception:  # the subscription stands whatever the service makes of it
                    self._logger.exception("on_connected failed")
            connected_before = True
            await self._lost.wait()
            self.subscribed = False
            if self._on_lost is not None:
                self._on_lost()
            self._logger.warning("lost the broker; %s will be declared again", self.queue_name)
            await self._close()

    async def _subscribe(self) -> None:
        self._lost.clear()
        connection = await aio_pika.connect(self._url, timeout=10)
        self._connection = connection
        connection.close_callbacks.add(lambda *_: self._lost.set())
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=PREFETCH)
        # The queue is this process's own; the exchange is the shared topology's, declared
        # by provisioning, and only named here (binding needs read on it, not configure).
        queue = await channel.declare_queue(
            self.queue_name,
            exclusive=True,
            auto_delete=True,
            arguments=self._definition.queue_arguments,
        )
        for routing_key in self._definition.routing_keys:
            await queue.bind(EVENTS_EXCHANGE, routing_key=routing_key)
        await queue.consume(self._handle, no_ack=True)

    async def _note_failure(self, error: Exception, _failures: int, delay: float) -> None:
        self._logger.warning(
            "cannot subscribe to %s, retrying in %.1fs: %s: %s",
            self.queue_name,
            delay,
            type(error).__name__,
            error,
        )
        await self._close()

    async def _close(self) -> None:
        connection, self._connection = self._connection, None
        self.subscribed = False
        if connection is not None and not connection.is_closed:
            with contextlib.suppress(Exception):
                await connection.close()

    # -- messages ----------------------------------------------------------------------

    async def _handle(self, message: AbstractIncomingMessage) -> None:
        self.received_total += 1
        try:
            envelope = self._subscriptions.validate(message.body, message.headers or {})
        except InvalidEvent as error:
            self._logger.warning(
                "invalid event ignored: %s", error, extra={"message_id": message.message_id}
            )
            return
        try:
            await self._subscriptions.dispatch(self._context, envelope)
        except Exception:
            self._logger.exception(
                "cannot handle an event",
                extra={"event_id": str(envelope.event_id), "event_type": envelope.event_type},
            )
