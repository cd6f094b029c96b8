"""Exponential backoff with jitter, for everything that retries: :func:`retrying` is the
one loop of the outbox relay, the consumers (subscribing to the broker, holding a message
while the database is away) and :func:`backoff_delay` the delay of the notifier's task
retries."""

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


def backoff_delay(attempt: int, *, base: float, cap: float, floor: float = 0.0) -> float:
    """Seconds to wait before retry number ``attempt`` (1 for the first): about
    ``base * 2**(attempt - 1)``, at most ``cap``, drawn from the upper half of that ceiling
    so that many retrying clients spread out, and never below ``floor``."""
    ceiling = min(cap, base * 2 ** max(0, attempt - 1))
    return max(floor, random.uniform(ceiling / 2, ceiling))  # noqa: S311 (jitter, not secrets)


class Stopped(Exception):
    """:func:`retrying` gave up waiting because it was told to stop."""


def _always(_: Exception) -> bool:
    return True


async def retrying(
    operation: Callable[[], Awaitable[T]],
    *,
    on_failure: Callable[[Exception, int, float], Awaitable[None] | None],
    is_retryable: Callable[[Exception], bool] = _always,
    base: float = 0.5,
    cap: float,
    stop: asyncio.Event | None = None,
) -> T:
    """The result of ``operation``, awaited again after every retryable failure.

    After failure number ``n`` in a row, ``on_failure(error, n, delay)`` is called (to log
    it, say; awaited when it returns an awaitable), then it waits ``delay`` =
    ``backoff_delay(n, base=base, cap=cap)`` seconds, or raises :class:`Stopped` as soon as
    ``stop`` is set. An error ``is_retryable`` refuses propagates, as does cancellation.
    """
    failures = 0
    while True:
        try:
            return await operation()
        except Exception as error:
            if not is_retryable(error):
                raise
            failures += 1
            delay = backoff_delay(failures, base=base, cap=cap)
            noted = on_failure(error, failures, delay)
            if noted is not None:
                await noted
            if stop is None:
                await asyncio.sleep(delay)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            if stop.is_set():
                raise Stopped from error
