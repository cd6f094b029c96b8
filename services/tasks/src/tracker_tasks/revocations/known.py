"""Which sessions ended, answered from this replica's memory on every request.

Each replica hears of every ``session.revoked`` on its own queue (``tasks.live.<replica>``,
the one its live streams use) and remembers the session until its last access token
expired. The database (``revoked_sessions``, written once per event by whichever replica
takes it from the shared queue) stays the source of truth: memory answers alone only
while the replica is subscribed and has read the table since, and the answer "not
revoked" comes from the database whenever that is not so (at start-up, and after the
broker was lost until the table is read again).

The table is read :data:`SETTLE` after each subscription rather than at once: a
revocation published just before this replica's queue was bound reaches memory only
through the table, once the shared queue's consumer has written it. It is read again every
``reload_interval`` as well, so that even a consumer lagging longer leaves no gap for long.
"""

import asyncio
import contextlib
import logging
import time
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from tracker_runtime.background import Periodic
from tracker_runtime.database import Database
from tracker_tasks.revocations import repository

logger = logging.getLogger("tracker.tasks.sessions")

SETTLE = timedelta(seconds=2)
"""How long after subscribing the table is read before memory is trusted alone."""


class RevokedSessions:
    """The ended sessions this replica knows of, and whether it knows of all of them."""

    def __init__(
        self,
        *,
        database: Database,
        grace: timedelta,
        reload_interval: timedelta = timedelta(seconds=30),
        settle: timedelta = SETTLE,
    ) -> None:
        self._database = database
        self._grace = grace
        self._settle = settle.total_seconds()
        self._ended: dict[uuid.UUID, datetime] = {}
        self._subscribed_at: float | None = None
        """When the current subscription began (monotonic); ``None`` while there is none."""
        self._complete = False
        """Memory holds every revocation: the table was read ``settle`` after subscribing."""
        self._periodic = Periodic("revoked sessions reload", reload_interval, self.reload)
        self._first_read: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()
        if self._first_read is not None:
            # Awaited, so that a read cut short gives its connection back before the pool
            # is disposed.
            self._first_read.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._first_read

    async def readiness(self) -> dict[str, object]:
        return {"known": len(self._ended), "from_memory": self._complete}

    async def is_revoked(self, session_id: uuid.UUID, db: AsyncSession) -> bool:
        """Whether the session ended; asks the database (through the request's ``db``)
        only while memory may lack a revocation."""
        if session_id in self._ended:
            return True
        if self._complete:
            return False
        return await repository.is_revoked(db, session_id)

    def ended(self, session_id: uuid.UUID, expires_at: datetime) -> None:
        """A ``session.revoked`` this replica heard of."""
        self._ended[session_id] = expires_at

    async def subscribed(self) -> None:
        """This replica's queue is bound (again): events flow from now on; the table is read
        once the ones published before have had time to be written."""
        self._complete = False
        self._subscribed_at = time.monotonic()
        if self._first_read is not None:
            self._first_read.cancel()
        self._first_read = asyncio.create_task(self._read_after_settling())

    def lost(self) -> None:
        """The broker is away: revocations may be missed until subscribed again."""
        self._complete = False
        self._subscribed_at = None

    async def reload(self) -> None:
        """Read the table into memory; memory is complete from then if the read began
        ``settle`` or more after subscribing. Sessions whose tokens expired more than the
        grace period ago (the verifier's leeway, clock skew) are forgotten, as in the
        table."""
        began = time.monotonic()
        subscribed_at = self._subscribed_at
        async with self._database.sessions() as db:
            rows = await repository.all_revoked(db)
        self._ended.update(rows)
        before = datetime.now(UTC) - self._grace
        for session_id in [s for s, expires in self._ended.items() if expires < before]:
            del self._ended[session_id]
        settled = subscribed_at is not None and began - subscribed_at >= self._settle
        if settled and subscribed_at == self._subscribed_at and not self._complete:
            self._complete = True
            logger.info("revoked sessions answered from memory (%d)", len(self._ended))

    async def _read_after_settling(self) -> None:
        await asyncio.sleep(self._settle)
        try:
            await self.reload()
        except Exception:  # the periodic reload tries again; meanwhile the table answers
            logger.exception("cannot read the revoked sessions")
