"""The outbox relay: publishes a service's outbox rows to RabbitMQ, inside the service
process, without ever blocking a request.

- Woken by PostgreSQL ``LISTEN``/``NOTIFY`` (a trigger notifies on every insert into the
  outbox) and polling as a fallback, so an event leaves within about a second at worst.
- Claims rows with ``FOR UPDATE SKIP LOCKED``: several replicas share the work and never
  publish the same row at the same time.
- Publishes through FastStream's RabbitBroker: persistent delivery, ``message_id`` =
  ``event_id``, ``mandatory``, publisher confirms. A row is marked published only after the
  broker confirmed it; a row whose publish failed stays pending and is tried again.
- While the broker (or the database) is down it backs off exponentially, with jitter, and
  requests keep succeeding: their events wait in the outbox.
- Published rows are deleted once older than ``retention``, by a loop of its own, so the
  outbox is kept small whatever the broker does.
- Metrics: rows published and rows whose publish failed (by event type), and the backlog
  (pending rows, counted up to :data:`BACKLOG_COUNT_CAP`, and the oldest one's age),
  measured every ``metrics_interval`` by one query that reads the pending rows' index.
  Every replica reports the same backlog: take the maximum, not the sum.

Delivery is at least once: a crash between the confirm and the commit publishes a row
again, and consumers deduplicate on ``event_id``.
"""

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg
from faststream.rabbit import RabbitBroker
from prometheus_client import Counter, Gauge
from sqlalchemy import Row, Table, func, select, update

from tracker_contracts import EVENTS_EXCHANGE
from tracker_runtime.background import BackgroundLoops, every
from tracker_runtime.backoff import retrying
from tracker_runtime.database import Database, libpq_dsn
from tracker_runtime.messaging import EXCHANGES_BY_NAME, unrouted_depth
from tracker_runtime.outbox import NOTIFY_CHANNEL

logger = logging.getLogger("tracker.relay")

BACKLOG_COUNT_CAP = 100_000
"""Pending rows are counted up to this: past it the number no longer changes what an
operator does, and counting stays cheap however long the broker was away."""

OUTBOX_PUBLISHED = Counter(
    "tracker_outbox_published_total",
    "Outbox rows the broker confirmed, by event type.",
    ("event_type",),
)
OUTBOX_PUBLISH_FAILURES = Counter(
    "tracker_outbox_publish_failures_total",
    "Outbox rows whose publish failed (they stay pending and are tried again), by event type.",
    ("event_type",),
)
OUTBOX_PENDING = Gauge(
    "tracker_outbox_pending",
    f"Outbox rows not yet published (counted up to {BACKLOG_COUNT_CAP}).",
)
OUTBOX_OLDEST_AGE = Gauge(
    "tracker_outbox_oldest_pending_age_seconds",
    "Age of the oldest outbox row not yet published; 0 when none is.",
)


@dataclass(frozen=True, slots=True)
class Backlog:
    pending: int
    oldest_age_seconds: float

    def as_dict(self) -> dict[str, float | int]:
        return {"pending": self.pending, "oldest_age_seconds": round(self.oldest_age_seconds, 3)}


class OutboxRelay:
    def __init__(
        self,
        *,
        database: Database,
        table: Table,
        broker: RabbitBroker,
        batch_size: int = 500,
        poll_interval: float = 1.0,
        max_backoff: float = 30.0,
        confirm_timeout: float = 10.0,
        retention: timedelta = timedelta(days=7),
        cleanup_interval: timedelta = timedelta(hours=1),
        metrics_interval: timedelta = timedelta(seconds=15),
    ) -> None:
        self._database = database
        self._table = table
        self._broker = broker
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._max_backoff = max_backoff
        self._confirm_timeout = confirm_timeout
        self._retention = retention
        self._cleanup_interval = cleanup_interval
        self._metrics_interval = metrics_interval
        self._wakeup = asyncio.Event()
        self._loops = BackgroundLoops()
        self._broker_ready = False
        self.published_total = 0

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        self._loops.start(
            {
                "outbox-listen": self._listen(),
                "outbox-relay": self._run(),
                "outbox-cleanup": every(
                    self._cleanup_interval, self._delete_old_rows, "outbox cleanup"
                ),
                "outbox-metrics": self._measure_every_interval(),
            }
        )

    async def stop(self) -> None:
        await self._loops.cancel()
        self._broker_ready = False
        with contextlib.suppress(Exception):
            await self._broker.stop()

    def wake(self) -> None:
        self._wakeup.set()

    # -- observation -------------------------------------------------------------------

    async def backlog(self) -> Backlog:
        table = self._table
        statement = select(
            func.count(), func.extract("epoch", func.now() - func.min(table.c.created_at))
        ).where(table.c.published_at.is_(None))
        async with self._database.engine.connect() as connection:
            count, age = (await connection.execute(statement)).one()
        return Backlog(pending=int(count), oldest_age_seconds=float(age or 0.0))

    async def measure_backlog(self) -> None:
        """Set the backlog gauges: the pending rows (up to :data:`BACKLOG_COUNT_CAP`) and
        the age of the first, both read from the pending rows' partial index."""
        table = self._table
        pending = table.c.published_at.is_(None)
        capped = select(table.c.id).where(pending).limit(BACKLOG_COUNT_CAP).subquery()
        oldest = select(table.c.created_at).where(pending).order_by(table.c.id).limit(1)
        statement = select(
            select(func.count()).select_from(capped).scalar_subquery(),
            func.extract("epoch", func.now() - oldest.scalar_subquery()),
        )
        async with self._database.engine.connect() as connection:
            count, age = (await connection.execute(statement)).one()
        OUTBOX_PENDING.set(int(count))
        OUTBOX_OLDEST_AGE.set(max(0.0, float(age or 0.0)))

    async def _measure_every_interval(self) -> None:
        while True:
            try:
                await self.measure_backlog()
            except Exception as error:  # the database is away: the relay's own log says so
                logger.debug("cannot measure the outbox backlog: %s", error)
            await asyncio.sleep(self._metrics_interval.total_seconds())

    async def readiness(self) -> dict[str, Any]:
        """Details for ``/readyz``: whether the broker is connected, the backlog, and how
        many events no queue was bound for wait in the (bounded) unrouted queue."""
        backlog = await self.backlog()
        details: dict[str, Any] = {"broker": "up" if self._broker_ready else "down"}
        if self._broker_ready:
            try:
                details["unrouted"] = await unrouted_depth(self._broker)
            except Exception as error:  # readiness must answer whatever the broker does
                logger.debug("cannot count unrouted events: %s", error)
        return {**details, **backlog.as_dict()}

    # -- the loop ----------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            # The relay must outlive any outage: every failure is retried, backed off.
            published = await retrying(
                self._publish_round,
                on_failure=self._log_outage,
                base=0.5,
                cap=self._max_backoff,
            )
            if published >= self._batch_size:
                continue  # more are waiting
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout=self._poll_interval)
            self._wakeup.clear()

    async def _publish_round(self) -> int:
        """Publish one batch; raise on any failure. (Old rows are deleted by a loop of their
        own, which goes on while the broker is down.)"""
        await self._ensure_broker()
        published, error = await self.publish_pending()
        if error is not None:
            raise error
        return published

    async def _ensure_broker(self) -> None:
        if self._broker_ready:
            return
        await self._broker.connect()
        self._broker_ready = True
        logger.info("relay connected to the broker")

    async def _log_outage(self, error: Exception, _failures: int, delay: float) -> None:
        self._broker_ready = self._broker_ready and not _is_broker_error(error)
        try:
            backlog = (await self.backlog()).as_dict()
        except Exception:  # the database may be the thing that is down
            backlog = {}
        logger.warning(
            "relay cannot publish, retrying in %.1fs: %s: %s",
            delay,
            type(error).__name__,
            error,
            extra=backlog,
        )

    async def publish_pending(self) -> tuple[int, Exception | None]:
        """Publish one batch of pending rows; return how many were confirmed and the first
        failure, if any. Confirmed rows are marked even when others in the batch failed."""
        table = self._table
        claim = (
            select(
                table.c.id, table.c.event_id, table.c.event_type, table.c.payload, table.c.headers
            )
            .where(table.c.published_at.is_(None))
            .order_by(table.c.id)
            .limit(self._batch_size)
            .with_for_update(skip_locked=True)
        )
        async with self._database.sessions.begin() as session:
            rows = (await session.execute(claim)).all()
            if not rows:
                return 0, None
            results = await asyncio.gather(
                *(self._publish(row) for row in rows), return_exceptions=True
            )
            for result in results:
                if isinstance(result, BaseException) and not isinstance(result, Exception):
                    raise result  # cancellation: roll back, the rows stay pending
            outcomes = list(zip(rows, results, strict=True))
            confirmed = [row.id for row, result in outcomes if result is None]
            failed = [(row.id, result) for row, result in outcomes if result is not None]
            if confirmed:
                await session.execute(
                    update(table)
                    .where(table.c.id.in_(confirmed))
                    .values(published_at=func.now(), attempts=table.c.attempts + 1, last_error=None)
                )
            for row_id, failure in failed:
                await session.execute(
                    update(table)
                    .where(table.c.id == row_id)
                    .values(attempts=table.c.attempts + 1, last_error=repr(failure)[:1000])
                )
        self.published_total += len(confirmed)
        for row, result in outcomes:
            counter = OUTBOX_PUBLISHED if result is None else OUTBOX_PUBLISH_FAILURES
            counter.labels(row.event_type).inc()
        first_error = failed[0][1] if failed else None
        return len(confirmed), first_error if isinstance(first_error, Exception) else None

    async def _publish(self, row: Row[Any, Any, Any, Any, Any]) -> None:
        headers = {"event_type": row.event_type, **(row.headers or {})}
        await self._broker.publish(
            json.dumps(row.payload, separators=(",", ":")).encode(),
            exchange=EXCHANGES_BY_NAME[EVENTS_EXCHANGE],
            routing_key=row.event_type,
            mandatory=True,
            persist=True,
            message_id=str(row.event_id),
            content_type="application/json",
            headers=headers,
            timeout=self._confirm_timeout,
        )

    async def _delete_old_rows(self) -> None:
        table = self._table
        async with self._database.sessions.begin() as session:
            result = await session.execute(
                table.delete().where(table.c.published_at < func.now() - self._retention)
            )
        deleted = int(getattr(result, "rowcount", 0) or 0)
        if deleted:
            logger.info("deleted %d published outbox rows", deleted)

    # -- LISTEN ------------------------------------------------------------------------

    async def _listen(self) -> None:
        """Hold a connection that LISTENs for inserts; reconnect after any failure. The poll
        in the main loop covers the moments without a listener."""
        dsn = libpq_dsn(self._database.engine.url.render_as_string(hide_password=False))
        while True:
            connection: asyncpg.Connection | None = None
            try:
                connection = await asyncpg.connect(dsn, timeout=5)
                await connection.add_listener(NOTIFY_CHANNEL, self._on_notify)
                self.wake()  # catch up on anything inserted while not listening
                while not connection.is_closed():
                    await asyncio.sleep(5)
                    await connection.execute("SELECT 1")
            except asyncio.CancelledError:
                raise
            except Exception as error:
                logger.debug("outbox listener reconnecting: %s", error)
                await asyncio.sleep(2)
            finally:
                if connection is not None and not connection.is_closed():
                    with contextlib.suppress(Exception):
                        await connection.close(timeout=2)

    def _on_notify(self, *_: object) -> None:
        self._wakeup.set()


def _is_broker_error(error: Exception) -> bool:
    module = type(error).__module__
    return module.startswith(("aio_pika", "aiormq", "pamqp", "faststream")) or isinstance(
        error, (ConnectionError, OSError, TimeoutError)
    )
