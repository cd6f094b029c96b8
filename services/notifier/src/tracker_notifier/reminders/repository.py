"""The reminders projection's SQL: applying task events (newest version wins) and claiming
the reminders that fell due."""

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import delete, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from tracker_contracts import TaskCreated
from tracker_notifier.deliveries.models import Delivery, DeliveryStatus
from tracker_notifier.recipients.models import Recipient
from tracker_notifier.reminders.models import Reminder, ReminderSkips

OPEN = "open"
REMINDER_KIND = "reminder"


def apply_task(session: Session, task: TaskCreated) -> bool:
    """Store the task as the event shows it, unless a newer version (or its deletion) is
    stored already; ``False`` when the event changed nothing. The reminder is due at
    ``reminder_at`` while the task is open, unless that very instant was handled already."""
    remind_at = task.reminder_at
    statement = insert(Reminder).values(
        task_id=task.task_id,
        user_id=task.user_id,
        title=task.title,
        due_date=task.due_date,
        due_time=task.due_time,
        remind_at=remind_at,
        status=task.status,
        version=task.version,
        task_updated_at=task.updated_at,
        fire_at=remind_at if task.status == OPEN else None,
    )
    excluded = statement.excluded
    fire_at = text(
        "CASE WHEN excluded.status = 'open' AND excluded.remind_at IS DISTINCT FROM "
        "reminders.fired_for THEN excluded.remind_at END"
    )
    upsert = statement.on_conflict_do_update(
        index_elements=[Reminder.task_id],
        set_={
            "title": excluded.title,
            "due_date": excluded.due_date,
            "due_time": excluded.due_time,
            "remind_at": excluded.remind_at,
            "status": excluded.status,
            "version": excluded.version,
            "task_updated_at": excluded.task_updated_at,
            "fire_at": fire_at,
        },
        where=(Reminder.deleted_at.is_(None) & (Reminder.version < excluded.version)),
    ).returning(Reminder.task_id)
    return session.execute(upsert).first() is not None


def complete_task(session: Session, task_id: uuid.UUID, completed_at: datetime) -> bool:
    """The task was marked done at ``completed_at``: its reminder is off, unless a change
    newer than the completion is stored (the task reopened since, say)."""
    statement = (
        update(Reminder)
        .where(
            Reminder.task_id == task_id,
            Reminder.deleted_at.is_(None),
            Reminder.status == OPEN,
            Reminder.task_updated_at <= completed_at,
        )
        .values(status="done", fire_at=None)
        .returning(Reminder.task_id)
        .execution_options(synchronize_session=False)
    )
    return session.execute(statement).first() is not None


def delete_task(session: Session, task_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """The task is gone: keep only a tombstone (no title, nothing due), which refuses any
    later event about it."""
    statement = insert(Reminder).values(
        task_id=task_id,
        user_id=user_id,
        title="",
        status="deleted",
        version=0,
        deleted_at=text("now()"),
    )
    statement = statement.on_conflict_do_update(
        index_elements=[Reminder.task_id],
        set_={
            "title": "",
            "due_date": None,
            "due_time": None,
            "remind_at": None,
            "fire_at": None,
            "status": "deleted",
            "deleted_at": text("now()"),
        },
        where=Reminder.deleted_at.is_(None),
    )
    session.execute(statement)


def delete_of_user(session: Session, user_id: uuid.UUID) -> int:
    """Erase every reminder of the user (rows a tick is firing right now are waited for)."""
    result = session.execute(
        delete(Reminder).where(Reminder.user_id == user_id),
        execution_options={"synchronize_session": False},
    )
    return int(getattr(result, "rowcount", 0) or 0)


@dataclass(frozen=True, slots=True)
class DueReminder:
    task_id: uuid.UUID
    user_id: uuid.UUID
    title: str
    due_date: date | None
    due_time: str | None
    remind_at: datetime


# The reminders due at :now, oldest first, locked without waiting (two ticks split them
# instead of queueing behind each other), and marked handled in the same statement: whatever
# the tick then does with them commits with this mark, or neither does.
CLAIM_DUE = text("""
WITH due AS (
    SELECT task_id FROM reminders
    WHERE fire_at IS NOT NULL AND fire_at <= :now
    ORDER BY fire_at
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
)
UPDATE reminders AS r
SET fired_for = r.fire_at, fire_at = NULL
FROM due
WHERE r.task_id = due.task_id
RETURNING r.task_id, r.user_id, r.title, r.due_date, r.due_time, r.fired_for AS remind_at
""")


def claim_due(session: Session, *, now: datetime, limit: int) -> list[DueReminder]:
    rows = session.execute(CLAIM_DUE, {"now": now, "limit": limit})
    return sorted(
        (
            DueReminder(
                task_id=row.task_id,
                user_id=row.user_id,
                title=row.title,
                due_date=row.due_date,
                due_time=row.due_time,
                remind_at=row.remind_at,
            )
            for row in rows
        ),
        key=lambda reminder: reminder.remind_at,
    )


def recipients_of(session: Session, user_ids: list[uuid.UUID]) -> dict[uuid.UUID, Recipient]:
    """The recipients, share-locked until the transaction ends: an account deletion waits
    for the deliveries stored here, then deletes them with the rest."""
    rows = session.scalars(
        select(Recipient).where(Recipient.user_id.in_(user_ids)).with_for_update(key_share=True)
    )
    return {recipient.user_id: recipient for recipient in rows}


def count_skipped(session: Session, reason: str, count: int) -> None:
    statement = insert(ReminderSkips).values(reason=reason, count=count)
    statement = statement.on_conflict_do_update(
        index_elements=[ReminderSkips.reason],
        set_={"count": ReminderSkips.count + statement.excluded.count, "updated_at": text("now()")},
    )
    session.execute(statement)


def skipped(session: Session) -> dict[str, int]:
    return {row.reason: row.count for row in session.scalars(select(ReminderSkips))}


def upcoming_seconds(
    session: Session, *, after: datetime, until: datetime, limit: int
) -> list[int]:
    """The whole seconds (Unix time, rounded up) at which reminders fall due after
    ``after`` and up to ``until``."""
    rows = session.execute(
        text(
            "SELECT DISTINCT CAST(ceil(extract(epoch FROM fire_at)) AS bigint) AS second "
            "FROM reminders WHERE fire_at > :after AND fire_at <= :until "
            "ORDER BY second LIMIT :limit"
        ),
        {"after": after, "until": until, "limit": limit},
    )
    return [int(row.second) for row in rows]


def lost_sends(session: Session, *, created_before: datetime, limit: int) -> list[int]:
    """Reminder mails stored but never tried: their tick died before it enqueued them."""
    statement = (
        select(Delivery.id)
        .where(
            Delivery.kind == REMINDER_KIND,
            Delivery.status == DeliveryStatus.PENDING,
            Delivery.attempts == 0,
            Delivery.created_at < created_before,
        )
        .order_by(Delivery.created_at)
        .limit(limit)
    )
    return list(session.scalars(statement))


def forget_deleted_before(session: Session, before: datetime, *, limit: int) -> int:
    old = (
        select(Reminder.task_id)
        .where(Reminder.deleted_at < before)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    result = session.execute(
        delete(Reminder).where(Reminder.task_id.in_(old)),
        execution_options={"synchronize_session": False},
    )
    return int(getattr(result, "rowcount", 0) or 0)
