"""Forgetting task changes older than ``TASKS_STREAM_RETENTION``, periodically."""

import logging
from datetime import UTC, datetime, timedelta

from tracker_runtime.background import Periodic
from tracker_runtime.database import Database
from tracker_tasks.live import repository as feed

logger = logging.getLogger("tracker.tasks.live")


class ExpiredChanges:
    def __init__(self, *, database: Database, interval: timedelta, retention: timedelta) -> None:
        self._database = database
        self._retention = retention
        self._periodic = Periodic("task changes cleanup", interval, self._forget_expired)

    async def start(self) -> None:
        await self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()

    async def delete_expired(self) -> int:
        async with self._database.sessions.begin() as session:
            return await feed.delete_older_than(session, datetime.now(UTC) - self._retention)

    async def _forget_expired(self) -> None:
        if deleted := await self.delete_expired():
            logger.info("forgot %d task changes", deleted)
