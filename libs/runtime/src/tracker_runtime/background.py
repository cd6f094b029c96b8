"""Loops a service runs beside its requests (the outbox relay, subscribers, clean-ups),
started together and cancelled together."""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from datetime import timedelta
from typing import Any

logger = logging.getLogger("tracker.background")


class BackgroundLoops:
    def __init__(self) -> None:
        self._tasks: list[asyncio.Task[None]] = []

    def start(self, loops: dict[str, Coroutine[Any, Any, None]]) -> None:
        """Run each coroutine as a task named by its key."""
        self._tasks += [asyncio.create_task(loop, name=name) for name, loop in loops.items()]

    async def cancel(self) -> None:
        """Cancel every loop and wait until each has finished."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []


async def every(interval: timedelta, job: Callable[[], Awaitable[object]], name: str) -> None:
    """Run ``job`` every ``interval``, first after one interval, until cancelled. A failure
    (the database away, say) is logged and the next round tries again: housekeeping must
    never take its service down. ``job`` logs what it did itself."""
    while True:
        await asyncio.sleep(interval.total_seconds())
        try:
            await job()
        except Exception as error:
            logger.warning(
                "%s failed, trying again in %s: %s: %s",
                name,
                interval,
                type(error).__name__,
                error,
            )


class Periodic:
    """A job run :func:`every` ``interval`` beside a service's requests, as a component of
    its shell (``tracker_runtime.service``): started and stopped with the service."""

    def __init__(
        self, name: str, interval: timedelta, job: Callable[[], Awaitable[object]]
    ) -> None:
        self._name = name
        self._interval = interval
        self._job = job
        self._loops = BackgroundLoops()

    async def start(self) -> None:
        self._loops.start(
            {self._name.replace(" ", "-"): every(self._interval, self._job, self._name)}
        )

    async def stop(self) -> None:
        await self._loops.cancel()
