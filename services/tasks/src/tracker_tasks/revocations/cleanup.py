"""Forgetting revoked sessions once their tokens are long expired, periodically."""

import logging
from datetime import UTC, datetime, timedelta

from tracker_runtime.background import Periodic
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
        self._grace = grace
        self._periodic = Periodic("revoked sessions cleanup", interval, self._forget_expired)

    async def start(self) -> None:
        await self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()

    async def delete_expired(self) -> int:
        """Forget revoked sessions whose tokens expired more than the grace period ago
        (the verifier's leeway and clock skew keep an expired token alive a little longer)."""
        async with self._database.sessions.begin() as session:
            return await repository.delete_expired(session, datetime.now(UTC) - self._grace)

    async def _forget_expired(self) -> None:
        if deleted := await self.delete_expired():
            logger.info("forgot %d expired revoked sessions", deleted)
