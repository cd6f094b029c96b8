import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Table,
    Text,
    and_,
    bindparam,
    cast,
    delete,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import ReturningInsert

from tracker_notifier.deliveries.models import Delivery, DeliveryStatus
from tracker_notifier.mail.kinds import MailKind

MAX_ERROR_LENGTH = 2000


@dataclass(frozen=True, slots=True)
class NewDelivery:
    """A mail to store: its kind, idempotency key, subject and stored payload all come
    from ``payload``."""

    payload: MailKind
    user_id: uuid.UUID
    to_address: str
    message_id: str
    event_id: uuid.UUID | None = None
    """The event that caused the mail, if any."""


DELIVERIES: Table = Delivery.__table__  # type: ignore[assignment]  # declared as a Table
"""The table itself: the hot statements below are Core statements on it, which skip the
ORM's bulk-update and bulk-insert machinery (most of their cost, measured in a digest run)."""

_INSERT: ReturningInsert[Any] = (
    insert(DELIVERIES)
    .on_conflict_do_nothing(index_elements=[DELIVERIES.c.idempotency_key])
    .returning(DELIVERIES.c.id)
)


def create_delivery(
    session: Session,
    *,
    payload: MailKind,
    user_id: uuid.UUID,
    to_address: str,
    message_id: str,
    event_id: uuid.UUID | None = None,
) -> int | None:
    """Insert a pending delivery; ``None`` when one with this key exists already."""
    new = NewDelivery(payload, user_id, to_address, message_id, event_id)
    delivery_id: int | None = session.execute(_INSERT, _row(new)).scalar_one_or_none()
    return delivery_id


def create_deliveries(session: Session, deliveries: Sequence[NewDelivery]) -> list[int]:
    """Insert pending deliveries, those whose key exists skipped: one statement compiled
    once, its rows sent in multi-row batches (SQLAlchemy's "insertmanyvalues")."""
    if not deliveries:
        return []
    rows = [_row(new) for new in deliveries]
    delivery_ids: list[int] = list(session.execute(_INSERT, rows).scalars())
    return delivery_ids


def _row(new: NewDelivery) -> dict[str, Any]:
    return {
        "idempotency_key": new.payload.idempotency_key(new.user_id),
        "kind": new.payload.KIND,
        "user_id": new.user_id,
        "event_id": new.event_id,
        "to_address": new.to_address,
        "subject": new.payload.subject(),
        "message_id": new.message_id,
        "payload": new.payload.model_dump(mode="json"),
    }


def get_by_key(session: Session, idempotency_key: str) -> Delivery | None:
    return session.scalars(
        select(Delivery).where(Delivery.idempotency_key == idempotency_key)
    ).one_or_none()


def left_by_event(session: Session, *, event_id: uuid.UUID) -> list[int]:
    """Deliveries an event created that its first handling left unsent: pending and never
    attempted (it died before sending them), or ``sending`` (it died mid-send). A pending
    delivery attempted before waits for a retry task of its own."""
    statement = select(DELIVERIES.c.id).where(
        DELIVERIES.c.event_id == event_id,
        or_(
            and_(DELIVERIES.c.status == DeliveryStatus.PENDING, DELIVERIES.c.attempts == 0),
            DELIVERIES.c.status == DeliveryStatus.SENDING,
        ),
    )
    return list(session.scalars(statement))


def mark_sending(session: Session, delivery_id: int) -> int:
    """Count a new attempt and mark it in progress; returns the attempt's number."""
    statement = (
        update(DELIVERIES)
        .where(DELIVERIES.c.id == delivery_id)
        .values(
            status=DeliveryStatus.SENDING,
            attempts=DELIVERIES.c.attempts + 1,
            attempted_at=func.now(),
        )
        .returning(DELIVERIES.c.attempts)
    )
    attempt: int = session.execute(statement).scalar_one()
    return attempt


TOKEN_FIELD = "token"
"""The payload field that holds the secret of a mail's link (see ``mail.kinds``)."""


def _without_token() -> Any:
    """The stored payload without its link's secret: once a mail is sent or failed for
    good, nothing will need it again, and the database should not keep a live secret."""
    return DELIVERIES.c.payload.op("-", return_type=JSONB)(cast(TOKEN_FIELD, Text))


_MARK_SENT = (
    update(DELIVERIES)
    .where(DELIVERIES.c.id == bindparam("delivery_id"))
    .values(
        status=DeliveryStatus.SENT,
        sent_at=bindparam("sent_at"),
        last_error=None,
        payload=_without_token(),
    )
)


def mark_sent(session: Session, delivery_id: int, *, sent_at: datetime) -> None:
    session.execute(_MARK_SENT, {"delivery_id": delivery_id, "sent_at": sent_at})


def mark_deferred(session: Session, delivery_id: int, *, error: str) -> None:
    """The attempt failed but another will follow."""
    session.execute(
        update(DELIVERIES)
        .where(DELIVERIES.c.id == delivery_id)
        .values(status=DeliveryStatus.PENDING, last_error=error[:MAX_ERROR_LENGTH])
    )


def mark_failed(session: Session, delivery_id: int, *, error: str) -> None:
    session.execute(
        update(DELIVERIES)
        .where(DELIVERIES.c.id == delivery_id)
        .values(
            status=DeliveryStatus.FAILED,
            last_error=error[:MAX_ERROR_LENGTH],
            payload=_without_token(),
        )
    )


def delete_of_user(session: Session, user_id: uuid.UUID) -> int:
    """Delete every delivery of the user, sent or not. A mail being sent right now holds
    its advisory lock (see :func:`try_lock`): this waits for that send to finish, so a mail
    either went out before the deletion or never goes out; and a send task that comes
    later finds its delivery gone (or, for a moment, locked by this transaction)."""
    unfinished = list(
        session.scalars(
            select(Delivery.id)
            .where(
                Delivery.user_id == user_id,
                Delivery.status.in_((DeliveryStatus.PENDING, DeliveryStatus.SENDING)),
            )
            .order_by(Delivery.id)
        )
    )
    if unfinished:
        session.execute(
            text(
                "SELECT pg_advisory_xact_lock(id) "
                "FROM unnest(CAST(:ids AS bigint[])) AS id ORDER BY id"
            ),
            {"ids": unfinished},
        )
    result = session.execute(
        delete(Delivery).where(Delivery.user_id == user_id),
        execution_options={"synchronize_session": False},
    )
    return int(getattr(result, "rowcount", 0) or 0)


def stale_unattempted(session: Session, *, created_before: datetime, limit: int) -> list[int]:
    """Pending deliveries that no send task touched although they are not new: their
    process died between storing them and enqueueing them."""
    statement = (
        select(Delivery.id)
        .where(
            Delivery.status == DeliveryStatus.PENDING,
            Delivery.attempts == 0,
            Delivery.created_at < created_before,
        )
        .order_by(Delivery.created_at)
        .limit(limit)
    )
    return list(session.scalars(statement))


def stale_sending(session: Session, *, attempted_before: datetime, limit: int) -> list[int]:
    """Deliveries left ``sending`` by an attempt that began before ``attempted_before``:
    their worker died mid-send and no task is left to finish them. (Rows from before
    attempts were timed count from their creation.)"""
    statement = (
        select(Delivery.id)
        .where(
            Delivery.status == DeliveryStatus.SENDING,
            func.coalesce(Delivery.attempted_at, Delivery.created_at) < attempted_before,
        )
        .order_by(Delivery.created_at)
        .limit(limit)
    )
    return list(session.scalars(statement))


def delete_finished(session: Session, *, created_before: datetime, limit: int) -> int:
    """Delete up to ``limit`` sent or failed deliveries created before ``created_before``;
    rows another tick is deleting are skipped, not waited for."""
    finished = (
        select(Delivery.id)
        .where(
            Delivery.status.in_([DeliveryStatus.SENT, DeliveryStatus.FAILED]),
            Delivery.created_at < created_before,
        )
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    statement = delete(Delivery).where(Delivery.id.in_(finished))
    result = session.execute(statement, execution_options={"synchronize_session": False})
    return int(getattr(result, "rowcount", 0) or 0)


def try_lock(connection: Connection, delivery_ids: list[int]) -> list[int]:
    """Take the deliveries' session-level advisory locks without waiting, in one round
    trip; returns the ids locked (the others are another task's right now). The locks
    survive the commits in between and die with the connection, so a killed worker never
    holds one. (The notifier's advisory-lock keys are delivery ids; nothing else takes one.)
    """
    locked = connection.execute(
        text("SELECT id FROM unnest(CAST(:ids AS bigint[])) AS id WHERE pg_try_advisory_lock(id)"),
        {"ids": delivery_ids},
    )
    result = [row.id for row in locked]
    connection.commit()
    return result


def unlock(connection: Connection, delivery_ids: list[int]) -> None:
    connection.execute(
        text("SELECT pg_advisory_unlock(id) FROM unnest(CAST(:ids AS bigint[])) AS id"),
        {"ids": delivery_ids},
    )
    connection.commit()


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery claimed for an attempt: the row as the attempt found it."""

    delivery: Delivery
    attempt: int
    """The attempt's number (the row's ``attempts``, counted)."""
    status_before: DeliveryStatus


def claim_many(session: Session, delivery_ids: list[int]) -> list[Claimed]:
    """Mark the unfinished ones among ``delivery_ids`` as being sent, counting an attempt
    each, in one statement; returns them in id order."""
    unfinished = (
        select(DELIVERIES.c.id, DELIVERIES.c.status)
        .where(DELIVERIES.c.id.in_(delivery_ids), DELIVERIES.c.status.in_(UNFINISHED))
        .with_for_update()
        .subquery("before")
    )
    statement = (
        update(DELIVERIES)
        .where(DELIVERIES.c.id == unfinished.c.id)
        .values(
            status=DeliveryStatus.SENDING,
            attempts=DELIVERIES.c.attempts + 1,
            attempted_at=func.now(),
        )
        .returning(*(DELIVERIES.c[name] for name in _LOADED), unfinished.c.status)
    )
    claimed = [
        Claimed(
            Delivery(**{name: row[index] for index, name in enumerate(_LOADED)}),
            row.attempts,
            DeliveryStatus(row[-1]),
        )
        for row in session.execute(statement)
    ]
    return sorted(claimed, key=lambda claim: claim.delivery.id)


_LOADED = (
    "id",
    "kind",
    "user_id",
    "to_address",
    "subject",
    "message_id",
    "payload",
    "status",
    "attempts",
)
"""What sending a claimed delivery reads of its row."""
UNFINISHED = (DeliveryStatus.PENDING, DeliveryStatus.SENDING)


def unclaim(session: Session, delivery_ids: list[int]) -> None:
    """Give back claimed deliveries that were never tried: pending, the attempt uncounted."""
    session.execute(
        update(DELIVERIES)
        .where(DELIVERIES.c.id.in_(delivery_ids))
        .values(status=DeliveryStatus.PENDING, attempts=DELIVERIES.c.attempts - 1)
    )
