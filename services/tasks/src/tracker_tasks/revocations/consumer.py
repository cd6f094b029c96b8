"""``session.revoked`` events, consumed inside the service with a FastStream subscriber.

Every replica consumes from the one durable queue ``tasks.sessions``, which hands each event
to one replica only; so the revoked session is stored in PostgreSQL, where every replica's
requests look it up. The service starts and serves without RabbitMQ: the subscriber connects
in the background and keeps trying, and ``/readyz`` reports its state.

Messages are settled by hand: stored → ack; malformed or not a ``session.revoked`` →
reject without requeue, so the queue dead-letters it. While the database is unreachable the
message is held, unsettled, and the write retried in process with backoff: every requeue
would spend one of the queue's DELIVERY_LIMIT deliveries, so a few seconds' outage would
dead-letter the revocation and a logged-out token would keep working. Held messages fill
the prefetch window, so the consumer takes no more until the database is back. Any other
database error requeues after a pause, and the delivery limit dead-letters a message that
never succeeds (``python -m tracker_runtime.replay`` puts it back once fixed).
"""

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from faststream.message import StreamMessage
from faststream.middlewares import AckPolicy
from faststream.rabbit import Channel, RabbitQueue
from faststream.rabbit.annotations import RabbitMessage
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from tracker_contracts import SessionRevoked, parse_envelope
from tracker_contracts.messaging import TASKS_SESSION_EVENTS
from tracker_runtime.background import BackgroundLoops
from tracker_runtime.backoff import backoff_delay
from tracker_runtime.database import Database
from tracker_runtime.messaging import declare_topology, new_broker
from tracker_tasks.revocations import repository

logger = logging.getLogger("tracker.tasks.sessions")

PREFETCH = 20
RETRY_PAUSE_SECONDS = 1.0


class BrokerUnavailable(ConnectionError):
    pass


def _database_unreachable(error: Exception) -> bool:
    """Whether ``error`` says the database is away (refused, dropped, shutting down) rather
    than that this write is wrong: only the first is worth holding a message for."""
    if isinstance(error, (OSError, TimeoutError, InterfaceError, OperationalError)):
        return True
    return isinstance(error, DBAPIError) and error.connection_invalidated


async def _raw_body(message: StreamMessage[Any]) -> bytes:
    """Hand the handler the bytes as they came: validation is :func:`parse_envelope`'s job,
    and a body that is not even JSON must be rejected like any other malformed event."""
    return message.body


class SessionEventsConsumer:
    def __init__(
        self,
        *,
        database: Database,
        rabbitmq_url: str,
        max_backoff: float = 30.0,
        cleanup_interval: timedelta = timedelta(minutes=10),
        grace: timedelta = timedelta(minutes=5),
    ) -> None:
        self._database = database
        self._max_backoff = max_backoff
        self._cleanup_interval = cleanup_interval
        self._grace = grace
        self._broker = new_broker(rabbitmq_url)
        # The queue is declared, with its pinned arguments, by declare_topology; the
        # subscriber only attaches to it (a passive declare cannot disagree with it).
        self._broker.subscriber(
            RabbitQueue(TASKS_SESSION_EVENTS.name, declare=False),
            channel=Channel(prefetch_count=PREFETCH),
            ack_policy=AckPolicy.MANUAL,
            decoder=_raw_body,
            no_reply=True,
            title=TASKS_SESSION_EVENTS.name,
            description="session.revoked: the tasks service refuses the session's tokens.",
        )(self.handle)
        self._loops = BackgroundLoops()
        self._subscribed = False
        self._stopping = asyncio.Event()
        self._held = 0

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        self._stopping.clear()
        self._loops.start(
            {
                "session-events-subscribe": self._subscribe(),
                "revoked-sessions-cleanup": self._clean_up_periodically(),
            }
        )

    async def stop(self) -> None:
        self._stopping.set()  # held messages go back to the queue with the channel
        await self._loops.cancel()
        self._subscribed = False
        with contextlib.suppress(Exception):
            await self._broker.stop()

    async def _subscribe(self) -> None:
        """Connect, declare the topology, start the subscriber; retry with backoff until it
        works. After that, aio-pika's robust connection reconnects and resubscribes."""
        failures = 0
        while True:
            try:
                await self._broker.connect()
                await declare_topology(self._broker)
                await self._broker.start()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the service must outlive any broker outage
                failures += 1
                delay = backoff_delay(failures, base=0.5, cap=self._max_backoff)
                logger.warning(
                    "cannot subscribe to %s, retrying in %.1fs: %s: %s",
                    TASKS_SESSION_EVENTS.name,
                    delay,
                    type(error).__name__,
                    error,
                )
                with contextlib.suppress(Exception):
                    await self._broker.stop()
                await asyncio.sleep(delay)
            else:
                self._subscribed = True
                logger.info("subscribed to %s", TASKS_SESSION_EVENTS.name)
                return

    async def readiness(self) -> dict[str, Any]:
        """Details for ``/readyz``; raises while the subscriber is not consuming."""
        if not self._subscribed or not await self._broker.ping(timeout=0.2):
            raise BrokerUnavailable("not subscribed")
        return {"queue": TASKS_SESSION_EVENTS.name, "held_for_database": self._held}

    # -- messages ----------------------------------------------------------------------

    async def handle(self, body: bytes, message: RabbitMessage) -> None:
        try:
            envelope = parse_envelope(body)
        except (ValueError, KeyError) as error:  # pydantic's ValidationError is a ValueError
            logger.warning(
                "dead-lettering a malformed session event: %s",
                str(error).splitlines()[0],
                extra={"message_id": message.message_id},
            )
            await message.reject(requeue=False)
            return
        data = envelope.data
        if not isinstance(data, SessionRevoked):
            logger.warning(
                "dead-lettering an unexpected %s event",
                envelope.event_type,
                extra={"event_id": str(envelope.event_id)},
            )
            await message.reject(requeue=False)
            return
        try:
            stored = await self._store_while_reachable(data, str(envelope.event_id))
        except Exception as error:  # not an outage: let the delivery limit decide
            logger.warning(
                "cannot store a revoked session, requeueing: %s: %s",
                type(error).__name__,
                error,
                extra={"event_id": str(envelope.event_id)},
            )
            await asyncio.sleep(RETRY_PAUSE_SECONDS)
            await message.nack(requeue=True)
            return
        if not stored:  # stopping: the closing channel returns the message to the queue
            return
        await message.ack()
        logger.info("session revoked", extra={"sid": str(data.session_id)})

    async def _store_while_reachable(self, data: SessionRevoked, event_id: str) -> bool:
        """Store the revocation, retrying with backoff for as long as the database is
        unreachable; False when the consumer stops first. Other errors propagate."""
        failures = 0
        try:
            while True:
                try:
                    async with self._database.sessions.begin() as session:
                        await repository.add(session, data.session_id, data.expires_at)
                except Exception as error:
                    if not _database_unreachable(error):
                        raise
                    failures += 1
                    if failures == 1:
                        self._held += 1
                    delay = backoff_delay(failures, base=0.5, cap=self._max_backoff)
                    logger.warning(
                        "database unreachable, holding a revoked session, retrying in %.1fs: "
                        "%s: %s",
                        delay,
                        type(error).__name__,
                        error,
                        extra={"event_id": event_id},
                    )
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stopping.wait(), delay)
                    if self._stopping.is_set():
                        return False
                else:
                    return True
        finally:
            if failures:
                self._held -= 1

    # -- cleanup -----------------------------------------------------------------------

    async def delete_expired(self) -> int:
        """Forget revoked sessions whose tokens expired more than the grace period ago
        (the verifier's leeway and clock skew keep an expired token alive a little longer)."""
        async with self._database.sessions.begin() as session:
            return await repository.delete_expired(session, datetime.now(UTC) - self._grace)

    async def _clean_up_periodically(self) -> None:
        while True:
            await asyncio.sleep(self._cleanup_interval.total_seconds())
            try:
                deleted = await self.delete_expired()
            except Exception as error:  # the database may be down: next round
                logger.warning("cannot delete expired revoked sessions: %s", error)
            else:
                if deleted:
                    logger.info("forgot %d expired revoked sessions", deleted)
