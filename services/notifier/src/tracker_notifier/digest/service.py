"""One digest tick: every digest due at an instant, each claimed once, ever.

For each group of timezones whose day just ended (``windows``), users are taken in batches
of ``NOTIFIER_DIGEST_BATCH_SIZE`` in id order. Each batch is one transaction:

1. claim the batch's (user, day) digests (``repository.claim_batch``);
2. fetch the users' summaries for the day's window in one call to the tasks service;
3. store one pending delivery per user with something to say (idempotency key
   ``digest:{user_id}:{day}``); users with nothing get their claim and no mail.

After the commit the batch's deliveries go to the send queue as one task. A failure before
the commit (the tasks service away, the database gone) rolls the claims back, so a later
tick does the batch again: a digest is never lost to a fault, and never sent twice, because
the claim and the delivery commit together. Memory holds one batch at a time.

Each tick also keeps house: it requeues mails whose send task was lost, and forgets what
outlived its retention (old claims, the inbox and the ids of deleted accounts after
``NOTIFIER_INBOX_RETENTION``, sent or failed mails after ``NOTIFIER_DELIVERY_RETENTION``),
in short batched transactions.
"""

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from tracker_contracts.internal import UserSummary
from tracker_notifier.config import Settings
from tracker_notifier.db import Database
from tracker_notifier.deliveries import repository as deliveries
from tracker_notifier.deliveries.repository import NewDelivery
from tracker_notifier.digest import repository
from tracker_notifier.digest.repository import Candidate
from tracker_notifier.digest.summaries import SummariesClient
from tracker_notifier.digest.windows import DigestDay, due_days
from tracker_notifier.mail import messages
from tracker_notifier.mail.kinds import (
    COMPLETED_TITLES_SHOWN,
    DUE_TITLES_SHOWN,
    OPEN_TITLES_SHOWN,
    Digest,
)
from tracker_notifier.metrics import metrics
from tracker_notifier.recipients import repository as recipients
from tracker_runtime.timezones import known_timezones

logger = logging.getLogger("tracker.notifier.digest")

FIRST_USER = uuid.UUID(int=0)
TITLES = max(OPEN_TITLES_SHOWN, COMPLETED_TITLES_SHOWN, DUE_TITLES_SHOWN)
CLAIM_RETENTION = timedelta(days=3)
"""Claims older than this guard nothing any more (a day's digest is due for at most the
grace period after its midnight, and the grace is under a day)."""
STALE_DELIVERY_AGE = timedelta(minutes=30)
"""A pending delivery never attempted for this long lost its send task (its process died
between the commit and the enqueue): the tick enqueues it again."""
STALE_SWEEP_LIMIT = 10_000
"""Mails each sweep (lost tasks, stuck sends) hands back per tick, at most."""
RETENTION_BATCH_SIZE = 5_000
"""Rows per delete of the retention: each batch is its own short transaction."""
RETENTION_SWEEP_LIMIT = 200_000
"""Rows of one table the retention deletes per tick, at most; a larger backlog (after an
upgrade, say) is worked off over the next ticks instead of holding one tick up."""


@dataclass
class TickReport:
    at: datetime
    days: int = 0
    users: int = 0
    """Users whose digest this tick claimed."""
    mails: int = 0
    empty: int = 0
    """Claimed users with nothing done, open, overdue or due: no mail."""
    taken: int = 0
    """Users another tick had claimed first."""
    requeued: int = 0
    seconds: float = 0.0
    summaries_seconds: float = 0.0
    """Time spent waiting for the summaries API."""

    def line(self) -> str:
        return (
            f"digest at {self.at.isoformat()}: {self.users} users in {self.days} day(s), "
            f"{self.mails} mails queued, {self.empty} with nothing to say, "
            f"{self.taken} taken by another tick, {self.requeued} stale mails requeued, "
            f"{self.seconds:.1f}s ({self.summaries_seconds:.1f}s waiting for summaries)"
        )


Enqueue = Callable[[list[int]], None]
"""Hands a committed batch of delivery ids to the senders."""
Progress = Callable[[TickReport], None]


def digest_delivery(
    candidate: Candidate,
    summary: UserSummary,
    day: DigestDay,
    settings: Settings,
) -> NewDelivery | None:
    """One user's digest, or ``None`` when there is nothing to say."""
    digest = Digest(
        day=day.day,
        timezone=candidate.timezone,
        completed_count=summary.completed_count,
        completed_titles=tuple(summary.completed_titles),
        open_count=summary.open_count,
        open_titles=tuple(summary.open_titles),
        overdue_count=summary.overdue_count,
        overdue_titles=tuple(summary.overdue_titles),
        due_today_count=summary.due_today_count,
        due_today_titles=tuple(summary.due_today_titles),
    )
    if not digest.has_news:
        return None
    return NewDelivery(
        payload=digest,
        user_id=candidate.user_id,
        to_address=candidate.email,
        message_id=messages.new_message_id(settings.mail_from_address),
    )


class DigestRun:
    def __init__(
        self,
        database: Database,
        summaries: SummariesClient,
        settings: Settings,
        enqueue: Enqueue,
        progress: Progress | None = None,
    ) -> None:
        self._database = database
        self._summaries = summaries
        self._settings = settings
        self._enqueue = enqueue
        self._progress = progress

    def tick(self, at: datetime) -> TickReport:
        """Do everything due at ``at``; safe to run any number of times, side by side."""
        try:
            report = self._tick(at)
        except Exception:
            metrics().digest_runs.labels("failed").inc()
            raise
        metrics().digest_runs.labels("completed").inc()
        metrics().digest_users.inc(report.users)
        metrics().digest_duration.observe(report.seconds)
        return report

    def _tick(self, at: datetime) -> TickReport:
        started = time.monotonic()
        report = TickReport(at=at)
        days = due_days(at, known_timezones(), self._settings.digest_grace)
        report.days = len(days)
        for day, zones in days.items():
            self._send_day(day, zones, report)
        # Housekeeping goes by the clock, not by ``at``: ``make digest`` may name any instant.
        now = datetime.now(UTC)
        report.requeued = self._requeue_stale(now)
        with self._database.transaction() as session:
            repository.forget_claims_before(session, now - CLAIM_RETENTION)
        self._forget_old_rows(now)
        report.seconds = time.monotonic() - started
        logger.info(
            "digest tick done",
            extra={
                "at": at.isoformat(),
                "users": report.users,
                "mails": report.mails,
                "empty": report.empty,
                "taken": report.taken,
                "seconds": round(report.seconds, 3),
                "summaries_seconds": round(report.summaries_seconds, 3),
            },
        )
        return report

    def _send_day(self, day: DigestDay, zones: list[str], report: TickReport) -> None:
        after = FIRST_USER
        while True:
            with self._database.transaction() as session:
                candidates = repository.claim_batch(
                    session,
                    day=day.day,
                    zones=zones,
                    after=after,
                    limit=self._settings.digest_batch_size,
                )
                if not candidates:
                    return
                after = candidates[-1].user_id
                claimed = [candidate for candidate in candidates if candidate.claimed]
                report.taken += len(candidates) - len(claimed)
                rows = self._deliveries(claimed, day, report) if claimed else []
                delivery_ids = deliveries.create_deliveries(session, rows)
            report.users += len(claimed)
            report.mails += len(delivery_ids)
            report.empty += len(claimed) - len(rows)
            if delivery_ids:
                self._enqueue(delivery_ids)
            if self._progress is not None:
                self._progress(report)

    def _deliveries(
        self, claimed: list[Candidate], day: DigestDay, report: TickReport
    ) -> list[NewDelivery]:
        asked = time.monotonic()
        summaries = self._summaries.fetch(
            [candidate.user_id for candidate in claimed],
            start=day.start,
            end=day.end,
            day=day.day,
            titles=TITLES,
        )
        report.summaries_seconds += time.monotonic() - asked
        rows = []
        for candidate in claimed:
            summary = summaries.get(candidate.user_id)
            if summary is None:
                continue
            row = digest_delivery(candidate, summary, day, self._settings)
            if row is not None:
                rows.append(row)
        return rows

    def _requeue_stale(self, now: datetime) -> int:
        """Hand back to the senders the mails no task is left to finish: pending ones whose
        send task was never enqueued, and ones left ``sending`` for longer than
        ``NOTIFIER_STALE_SENDING_AFTER`` (their worker died mid-send and their task is
        gone). A sender skips any that a live task still holds (its lock) and resends the
        others with the same Message-ID (the duplicate window of ``deliveries.service``)."""
        with self._database.transaction() as session:
            unattempted = deliveries.stale_unattempted(
                session, created_before=now - STALE_DELIVERY_AGE, limit=STALE_SWEEP_LIMIT
            )
            stuck = deliveries.stale_sending(
                session,
                attempted_before=now - self._settings.stale_sending_after,
                limit=STALE_SWEEP_LIMIT,
            )
        if unattempted:
            logger.warning("requeueing %d mails whose send task was lost", len(unattempted))
        if stuck:
            logger.warning("requeueing %d mails left sending by a dead worker", len(stuck))
        stale = unattempted + stuck
        if stale:
            self._enqueue(stale)
        return len(stale)

    def _forget_old_rows(self, now: datetime) -> None:
        """Forget inbox entries and finished mails that outlived their retention."""
        inbox_before = now - self._settings.inbox_retention
        mails_before = now - self._settings.delivery_retention
        events = self._in_batches(
            lambda session, limit: repository.forget_processed_events_before(
                session, inbox_before, limit=limit
            )
        )
        mails = self._in_batches(
            lambda session, limit: deliveries.delete_finished(
                session, created_before=mails_before, limit=limit
            )
        )
        # Ids of deleted accounts guard against stale events, which cannot come back from
        # RabbitMQ after the inbox's retention either (see ``recipients.models.ErasedUser``).
        erased = self._in_batches(
            lambda session, limit: recipients.forget_erased_before(
                session, inbox_before, limit=limit
            )
        )
        if events or mails or erased:
            logger.info(
                "forgot %d handled events, %d sent or failed mails and %d ids of deleted "
                "accounts past their retention",
                events,
                mails,
                erased,
            )

    def _in_batches(self, delete_batch: Callable[[Session, int], int]) -> int:
        """Run ``delete_batch`` in one transaction after another until a batch comes up
        short or the tick's limit is reached."""
        total = 0
        while total < RETENTION_SWEEP_LIMIT:
            batch_size = RETENTION_BATCH_SIZE
            with self._database.transaction() as session:
                deleted = delete_batch(session, batch_size)
            total += deleted
            if deleted < batch_size:
                break
        return total
