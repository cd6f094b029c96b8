"""Which local day a tick sends digests for, in each timezone.

At an instant ``at``, a person in timezone ``Z`` is due a digest for the local calendar day
that ended at their most recent local midnight ``M``, provided ``at`` is less than ``grace``
after ``M``: ticks missed while nothing ran are caught up for that long, and a digest that
would arrive later than that (a stale "what you did yesterday" at lunchtime) is skipped.

A day is the half-open interval ``[start, end)`` of UTC instants whose local date is that
day, so days around DST changes last 23 or 25 hours, and a task completed at 23:59:59 local
belongs to that day while one at 00:00:00 belongs to the next. Where a zone skips local
midnight itself (clocks jumping from 23:59:59 to 01:00), the day starts at the jump.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo


@dataclass(frozen=True, slots=True, order=True)
class DigestDay:
    """One local day as a window of UTC instants: every zone with the same window shares
    one summaries request."""

    day: date
    start: datetime
    end: datetime


@lru_cache(maxsize=1024)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def day_start(day: date, zone: ZoneInfo) -> datetime:
    """The first instant (in UTC) of the local date ``day`` in ``zone``.

    A nonexistent local midnight (a DST jump at 00:00) resolves, with ``fold=0``, through
    the offset before the jump, which is exactly the instant of the jump: the day's start.
    """
    return datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC)


def due_day(at: datetime, timezone: str, grace: timedelta) -> DigestDay | None:
    """The day whose digest is due at ``at`` in ``timezone``, or ``None`` outside the grace."""
    zone = _zone(timezone)
    today = at.astimezone(zone).date()
    midnight = day_start(today, zone)
    if midnight > at:  # ``at`` lies in a repeated hour before the day's first instant
        today -= timedelta(days=1)
        midnight = day_start(today, zone)
    if at - midnight >= grace:
        return None
    yesterday = today - timedelta(days=1)
    return DigestDay(day=yesterday, start=day_start(yesterday, zone), end=midnight)


def due_days(
    at: datetime, timezones: Iterable[str], grace: timedelta
) -> dict[DigestDay, list[str]]:
    """The zones due at ``at``, grouped by the day (window) they are due for."""
    if at.tzinfo is None:
        raise ValueError("the tick's instant needs a UTC offset")
    groups: dict[DigestDay, list[str]] = defaultdict(list)
    for timezone in sorted(timezones):
        day = due_day(at, timezone, grace)
        if day is not None:
            groups[day].append(timezone)
    return dict(sorted(groups.items()))
