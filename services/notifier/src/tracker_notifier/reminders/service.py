"""Firing reminders: on time, exactly once, under faults.

**The trigger.** The scheduler's beat sends the ``reminders`` tick by name every
``SCHEDULER_REMINDER_INTERVAL`` seconds (10 by default) with a ``horizon``. A tick does two
things: it fires every reminder due by now (:meth:`ReminderRun.fire_due`), and it arranges
a tick of its own at each whole second within the horizon at which a reminder falls due
(:meth:`ReminderRun.plan`, sent with an ETA through RabbitMQ's delayed delivery). So a
reminder fires within about a second of its instant, and a lost or late wake-up is made up
by the next beat tick, seconds later. A reminder set for the next moment by an event gets a
wake-up of its own when the event is handled (``tasks.handle_event``).

**Exactly once.** Firing claims the due reminders in batches with ``FOR UPDATE SKIP
LOCKED`` and marks them handled (``fired_for``) in the same transaction that stores their
mails, each with the idempotency key ``reminder:{task_id}:{reminder_at}``: two workers, two
beats or a wake-up and a beat tick side by side split the due reminders between them and
never store one twice; a tick that dies before its commit leaves them due for the next.
The mails are then sent like every other (``deliveries.service``: late acks, a lock per
mail, the one duplicate window of a worker killed between the server's 250 and the commit).
A tick that died between its commit and handing the mails to the senders is made up by the
next tick, which requeues reminder mails left untried for :data:`LOST_SEND_AFTER`.

**Who gets one.** Only a confirmed address with reminders on; a reminder due longer ago than
``NOTIFIER_REMINDER_GRACE`` when the notifier gets to it (it was down) is skipped. Both
skips are logged and counted in ``reminder_skips``.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from tracker_notifier.config import Settings
from tracker_notifier.db import Database
from tracker_notifier.deliveries import repository as deliveries
from tracker_notifier.deliveries.repository import NewDelivery
from tracker_notifier.mail import messages
from tracker_notifier.mail.kinds import Reminder
from tracker_notifier.metrics import metrics
from tracker_notifier.reminders import repository
from tracker_notifier.reminders.repository import DueReminder

logger = logging.getLogger("tracker.notifier.reminders")

BATCH_SIZE = 500
"""Reminders claimed per transaction."""
MAX_WAKE_UPS = 120
"""Wake-ups one tick arranges at most (one per second of its horizon)."""
LOST_SEND_AFTER = timedelta(seconds=30)
"""A reminder mail stored this long ago and never tried lost its send task."""
SWEEP_LIMIT = 10_000
TOMBSTONE_BATCH = 1_000

LATE = "late"
UNWANTED = "unwanted"


@dataclass
class FireReport:
    at: datetime
    queued: int = 0
    late: int = 0
    unwanted: int = 0
    requeued: int = 0
    wake_ups: int = 0
    seconds: float = 0.0


Enqueue = Callable[[list[int]], None]
"""Hands committed reminder mails to the senders."""
WakeUp = Callable[[datetime], None]
"""Arranges a reminders tick at an instant."""


class ReminderRun:
    def __init__(
        self, database: Database, settings: Settings, enqueue: Enqueue, wake_up: WakeUp
    ) -> None:
        self._database = database
        self._settings = settings
        self._enqueue = enqueue
        self._wake_up = wake_up

    def tick(self, at: datetime, horizon: float = 0.0) -> FireReport:
        """Fire what is due now, arrange wake-ups within ``horizon`` seconds, keep house."""
        started = time.monotonic()
        now = datetime.now(UTC)
        report = self.fire_due(now)
        report.at = at
        if horizon > 0:
            report.wake_ups = self.plan(now, now + timedelta(seconds=horizon))
        report.requeued = self._requeue_lost(now)
        self._forget_tombstones(now)
        report.seconds = time.monotonic() - started
        if report.queued or report.late or report.unwanted or report.requeued:
            logger.info(
                "reminders fired",
                extra={
                    "at": at.isoformat(),
                    "queued": report.queued,
                    "skipped_late": report.late,
                    "skipped_unwanted": report.unwanted,
                    "requeued": report.requeued,
                    "seconds": round(report.seconds, 3),
                },
            )
        return report

    def fire_due(self, now: datetime) -> FireReport:
        """Claim and store the mail of every reminder due at ``now``, batch by batch."""
        report = FireReport(at=now)
        while True:
            with self._database.transaction() as session:
                due = repository.claim_due(session, now=now, limit=BATCH_SIZE)
                if not due:
                    return report
                rows, late, unwanted = self._mails(session, due, now)
                delivery_ids = deliveries.create_deliveries(session, rows)
                if late:
                    repository.count_skipped(session, LATE, len(late))
                if unwanted:
                    repository.count_skipped(session, UNWANTED, unwanted)
            for reminder in late:
                logger.warning(
                    "reminder skipped: due %s, longer ago than the grace of %s",
                    reminder.remind_at.isoformat(),
                    self._settings.reminder_grace,
                    extra={"task_id": str(reminder.task_id)},
                )
            _measure(rows, late, unwanted, now)
            report.queued += len(delivery_ids)
            report.late += len(late)
            report.unwanted += unwanted
            if delivery_ids:
                self._enqueue(delivery_ids)
            if len(due) < BATCH_SIZE:
                return report

    def _mails(
        self, session: Session, due: list[DueReminder], now: datetime
    ) -> tuple[list[NewDelivery], list[DueReminder], int]:
        recipients = repository.recipients_of(session, sorted({r.user_id for r in due}))
        oldest = now - self._settings.reminder_grace
        rows: list[NewDelivery] = []
        late: list[DueReminder] = []
        unwanted = 0
        for reminder in due:
            recipient = recipients.get(reminder.user_id)
            if recipient is None or not (recipient.email_verified and recipient.reminders_enabled):
                unwanted += 1
                continue
            if reminder.remind_at < oldest:
                late.append(reminder)
                continue
            rows.append(
                NewDelivery(
                    payload=Reminder(
                        task_id=reminder.task_id,
                        title=reminder.title,
                        remind_at=reminder.remind_at,
                        due_date=reminder.due_date,
                        due_time=reminder.due_time,
                        timezone=recipient.timezone,
                    ),
                    user_id=reminder.user_id,
                    to_address=recipient.email,
                    message_id=messages.new_message_id(self._settings.mail_from_address),
                )
            )
        return rows, late, unwanted

    def plan(self, after: datetime, until: datetime) -> int:
        """Arrange a tick at each whole second in (``after``, ``until``] at which a
        reminder falls due."""
        with self._database.transaction() as session:
            seconds = repository.upcoming_seconds(
                session, after=after, until=until, limit=MAX_WAKE_UPS
            )
        for second in seconds:
            self._wake_up(datetime.fromtimestamp(second, UTC))
        return len(seconds)

    def _requeue_lost(self, now: datetime) -> int:
        with self._database.transaction() as session:
            lost = repository.lost_sends(
                session, created_before=now - LOST_SEND_AFTER, limit=SWEEP_LIMIT
            )
        if lost:
            logger.warning("requeueing %d reminder mails whose send task was lost", len(lost))
            self._enqueue(lost)
        return len(lost)

    def _forget_tombstones(self, now: datetime) -> None:
        with self._database.transaction() as session:
            repository.forget_deleted_before(
                session, now - self._settings.inbox_retention, limit=TOMBSTONE_BATCH
            )


def _measure(
    rows: list[NewDelivery], late: list[DueReminder], unwanted: int, now: datetime
) -> None:
    """How late each fired reminder went out; how many were skipped, and why."""
    lateness = metrics().reminder_lateness
    for row in rows:
        if isinstance(row.payload, Reminder):
            lateness.observe((now - row.payload.remind_at).total_seconds())
    skipped = metrics().reminders_skipped
    if late:
        skipped.labels(LATE).inc(len(late))
    if unwanted:
        skipped.labels(UNWANTED).inc(unwanted)
