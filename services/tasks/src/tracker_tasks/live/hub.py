"""The live streams this process holds, and how events reach them.

A stream is a few flags and an ``asyncio.Event``, not a queue of messages: an event only
says "something changed for this person" (or "this session ended"), and the stream reads
what changed from the change feed in the database, from where it last was. So whatever
arrives, in whatever order, twice or late, a stream sends each change once, in order, and a
client that reads slowly costs no memory here: its stream reads more at once when it gets
to it, or tells it to reload when that is too much (``TASKS_STREAM_REPLAY_LIMIT``).
Handing an event to a stream never waits for anything.
"""

import asyncio
import itertools
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tracker_runtime.background import BackgroundLoops
from tracker_runtime.database import Database
from tracker_runtime.serve import on_shutdown
from tracker_tasks.metrics import LIVE_STREAMS
from tracker_tasks.revocations import repository as revocations

logger = logging.getLogger("tracker.tasks.live")


@dataclass(eq=False, slots=True)
class Stream:
    """One open ``GET /api/tasks/events``: whose it is, and what it has to do next."""

    user_id: uuid.UUID
    session_id: uuid.UUID
    ends_at: datetime
    """When its access token expires: the stream ends then, and the client reconnects with a
    renewed one."""
    slot: int = 0
    """Which second of the keep-alive interval this stream gets its comment line in."""
    woken: asyncio.Event = field(default_factory=asyncio.Event)
    changes_due: bool = False
    keepalive_due: bool = False
    closed: bool = False

    def changed(self) -> None:
        self.changes_due = True
        self.woken.set()

    def keep_alive(self) -> None:
        self.keepalive_due = True
        self.woken.set()

    def close(self) -> None:
        self.closed = True
        self.woken.set()


class StreamHub:
    """Every stream of this process, by person and by session; a component of the service
    (its keep-alive loop runs beside the requests)."""

    def __init__(
        self, *, database: Database, keepalive_interval: timedelta, concurrent_reads: int
    ) -> None:
        self._database = database
        self._keepalive_interval = keepalive_interval
        self._by_user: dict[uuid.UUID, set[Stream]] = {}
        self._by_session: dict[uuid.UUID, set[Stream]] = {}
        self._loops = BackgroundLoops()
        self._unregister: Callable[[], None] | None = None
        slots = max(1, int(keepalive_interval.total_seconds()))
        self._by_slot: list[set[Stream]] = [set() for _ in range(slots)]
        self._opened = itertools.count()
        self.reads = asyncio.Semaphore(concurrent_reads)
        """Streams read the feed through this, so that many waking at once (a reconnection
        to the broker) never take every connection of the pool from the requests."""

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        self._unregister = on_shutdown(self.close_all)
        self._loops.start({"live-keepalive": self._keep_alive()})

    async def stop(self) -> None:
        self.close_all()
        await self._loops.cancel()
        if self._unregister is not None:
            self._unregister()
            self._unregister = None

    async def readiness(self) -> dict[str, Any]:
        return {"streams": len(self), "people": len(self._by_user)}

    def __len__(self) -> int:
        return sum(len(streams) for streams in self._by_user.values())

    # -- streams -----------------------------------------------------------------------

    def open(self, user_id: uuid.UUID, session_id: uuid.UUID, ends_at: datetime) -> Stream:
        stream = Stream(
            user_id=user_id,
            session_id=session_id,
            ends_at=ends_at,
            slot=next(self._opened) % len(self._by_slot),
        )
        self._by_slot[stream.slot].add(stream)
        self._by_user.setdefault(user_id, set()).add(stream)
        self._by_session.setdefault(session_id, set()).add(stream)
        LIVE_STREAMS.inc()
        return stream

    def discard(self, stream: Stream) -> None:
        stream.close()
        slot = self._by_slot[stream.slot]
        if stream in slot:  # discarding twice counts once
            slot.discard(stream)
            LIVE_STREAMS.dec()
        for index, key in ((self._by_user, stream.user_id), (self._by_session, stream.session_id)):
            streams = index.get(key)
            if streams is not None:
                streams.discard(stream)
                if not streams:
                    del index[key]

    def streams(self) -> list[Stream]:
        return [stream for streams in self._by_user.values() for stream in streams]

    # -- what the events say -----------------------------------------------------------

    def changed(self, user_id: uuid.UUID) -> None:
        """A change of ``user_id``'s tasks committed: their streams read it."""
        for stream in self._by_user.get(user_id, ()):
            stream.changed()

    def end_session(self, session_id: uuid.UUID) -> None:
        for stream in list(self._by_session.get(session_id, ())):
            self.discard(stream)

    def end_user(self, user_id: uuid.UUID) -> None:
        for stream in list(self._by_user.get(user_id, ())):
            self.discard(stream)

    def close_all(self) -> None:
        for stream in self.streams():
            self.discard(stream)

    async def on_broker_connected(self, reconnected: bool) -> None:
        """Subscribed (again): events may have been missed while this process was not (a
        lost connection, or a broker still away when the first streams opened), so every
        stream reads the feed for what it missed, and the streams of sessions that ended
        meanwhile close."""
        streams = self.streams()
        if not streams:
            return
        logger.info(
            "subscribed %s: %d streams catch up", "again" if reconnected else "", len(streams)
        )
        for stream in streams:
            stream.changed()
        sessions = list(self._by_session)
        if not sessions:
            return
        async with self._database.sessions() as db:
            ended = await revocations.revoked_among(db, sessions)
        for session_id in ended:
            self.end_session(session_id)

    # -- keep-alive --------------------------------------------------------------------

    async def _keep_alive(self) -> None:
        """One loop for every stream: each gets a comment line once per interval (idle
        streams sleep in between, with no timer of their own), and those whose token
        expired end. The streams take turns, one slot of them each second, so that ten
        thousand streams never wake at once and hold up the requests."""
        period = self._keepalive_interval.total_seconds() / len(self._by_slot)
        tick = 0
        while True:
            await asyncio.sleep(period)
            tick = (tick + 1) % len(self._by_slot)
            now = datetime.now(UTC)
            for stream in list(self._by_slot[tick]):
                if stream.ends_at <= now:
                    self.discard(stream)
                else:
                    stream.keep_alive()
