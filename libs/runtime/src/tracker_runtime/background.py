"""Loops a service runs beside its requests (the outbox relay, subscribers, clean-ups),
started together and cancelled together."""

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any


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
