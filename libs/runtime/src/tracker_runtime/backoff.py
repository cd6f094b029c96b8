"""Exponential backoff with jitter, for everything that retries: the outbox relay and the
subscribers reconnecting to the broker, the notifier retrying mail."""

import random


def backoff_delay(attempt: int, *, base: float, cap: float, floor: float = 0.0) -> float:
    """Seconds to wait before retry number ``attempt`` (1 for the first): about
    ``base * 2**(attempt - 1)``, at most ``cap``, drawn from the upper half of that ceiling
    so that many retrying clients spread out, and never below ``floor``."""
    ceiling = min(cap, base * 2 ** max(0, attempt - 1))
    return max(floor, random.uniform(ceiling / 2, ceiling))  # noqa: S311 (jitter, not secrets)
