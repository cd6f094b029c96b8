"""Rate limits: attempts counted per key in fixed windows, reserved before the work.

A request takes its hit on every key that applies to it (its client address, its target
account) in one statement that commits at once, before the expensive or visible work
starts: concurrent requests count one after the other, so a burst cannot all pass a check
made before any of them was counted. The counting statement holds its rows' locks only
while it runs: one address sending many requests at once (everyone behind one proxy, say)
queues on its counter for a statement, never for a whole transaction, which would hold a
pooled connection per waiting request. A request over any limit gives its hits back at once
and gets a 429 with ``Retry-After``.
"""

import hashlib
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from tracker_auth.limits import repository
from tracker_runtime.database import Database
from tracker_runtime.errors import APIError

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Limit:
    key: str
    max_hits: int
    window: timedelta


@dataclass(frozen=True, slots=True)
class Reservation:
    """The hits a request took: each key with the window it counted in."""

    windows: dict[str, datetime]


def address_key(kind: str, email_key: str) -> str:
    """The key of a limit on a target address; the address itself is never stored here."""
    return f"{kind}:" + hashlib.sha256(email_key.encode()).hexdigest()


def client_key(kind: str, client_ip: str) -> str:
    return f"{kind}-ip:{client_ip}"


async def reserve(
    database: Database, limits: list[Limit], *, now: datetime, message: str
) -> Reservation:
    """Count one hit on every limit, or on none and raise a 429 when any is reached."""
    by_key = {limit.key: limit for limit in limits}
    async with database.engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        db = AsyncSession(bind=autocommit, expire_on_commit=False)
        try:
            rows = await repository.count_hits(
                db, {key: limit.window for key, limit in by_key.items()}, now=now
            )
            windows = {row.key: row.window_started_at for row in rows}
            over = [row for row in rows if row.hits > by_key[row.key].max_hits]
            if over:
                for key, window_started_at in windows.items():
                    await repository.take_back_hit(db, key, window_started_at=window_started_at)
                until = max(row.window_started_at + by_key[row.key].window for row in over)
                retry_after = max(1, math.ceil((until - now).total_seconds()))
                logger.warning("rate limited", extra={"retry_after": retry_after})
                raise APIError(429, message, headers={"Retry-After": str(retry_after)})
        finally:
            await db.close()
    return Reservation(windows=windows)


async def release(
    database: Database,
    reservation: Reservation,
    *,
    give_back: Sequence[str] = (),
    forget: Sequence[str] = (),
) -> None:
    """Give back the hits taken on the keys ``give_back`` (an attempt that turned out not
    to count) and forget every count of the keys ``forget``, in one transaction on a
    connection of its own."""
    taken = {key: reservation.windows[key] for key in give_back if key in reservation.windows}
    if not taken and not forget:
        return
    async with database.sessions.begin() as db:
        for key, window_started_at in taken.items():
            await repository.take_back_hit(db, key, window_started_at=window_started_at)
        if forget:
            await repository.forget(db, forget)
