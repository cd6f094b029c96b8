"""Forgetting revoked sessions once their tokens are long expired, periodically."""

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from tracker_runtime.background import BackgroundLoops
from tracker_runtime.database import Database
from tracker_tasks.revocations import repository

logger = logging.getLogger("tracker.tasks.sessions")


class ExpiredRevocations:
    def __init__(
        self,
        *,
        database: Database,
        interval: timedelta = timedelta(minutes=10),
        grace: timedelta = timedelta(minutes=5),
    ) -> None:
        self._database = database
        self._interval = interval
        self._grace = grace
        self._loops = BackgroundLoops()

    async def start(self) -> None:
        self._loops.start({"revoked-sessions-cleanup": self._clean_up_periodically()})

    async def stop(self) -> None:
        await self._loops.cancel()

    async def delete_expired(self) -> int:
        """Forget revoked sessions whose tokens expired more than the grace period ago
        (the verifier's leeway and clock skew keep an expired token alive a little longer)."""
        async with self._database.sessions.begin() as session:
            return await repository.delete_expired(session, datetime.now(UTC) - self._grace)

    async def _clean_up_periodically(self) -> None:
        while True:
            await asyncio.sleep(self._interval.total_seconds())
            try:
                deleted = await self.delete_expired()
            except Exception as error:  # the database may be down: next round
                logger.warning("cannot delete expired revoked sessions: %s", error)
            else:
                if deleted:
                    logger.info("forgot %d expired revoked sessions", deleted)
