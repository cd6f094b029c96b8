import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from tracker_notifier.deliveries.models import Delivery, DeliveryStatus

MAX_ERROR_LENGTH = 2000


def create_delivery(
    session: Session,
    *,
    idempotency_key: str,
    kind: str,
    user_id: uuid.UUID,
    to_address: str,
    subject: str,
    message_id: str,
    event_id: uuid.UUID | None = None,
    payload: dict[str, Any] | None = None,
) -> int | None:
    """Insert a pending delivery; ``None`` when one with this key exists already."""
    statement = (
        insert(Delivery)
        .values(
            idempotency_key=idempotency_key,
            kind=kind,
            user_id=user_id,
            event_id=event_id,
            to_address=to_address,
            subject=subject,
            message_id=message_id,
            payload=payload or {},
        )
        .on_conflict_do_nothing(index_elements=[Delivery.idempotency_key])
        .returning(Delivery.id)
    )
    return session.execute(statement).scalar_one_or_none()


def get_by_key(session: Session, idempotency_key: str) -> Delivery | None:
    return session.scalars(
        select(Delivery).where(Delivery.idempotency_key == idempotency_key)
    ).one_or_none()


def never_attempted(session: Session, *, event_id: uuid.UUID) -> list[int]:
    """Pending deliveries an event created and no send task has touched yet."""
    statement = select(Delivery.id).where(
        Delivery.event_id == event_id,
        Delivery.status == DeliveryStatus.PENDING,
        Delivery.attempts == 0,
    )
    return list(session.scalars(statement))


def try_lock(connection: Connection, delivery_id: int) -> bool:
    """Take the delivery's session-level advisory lock without waiting. It survives the
    commits in between and dies with the connection, so a killed worker never holds it.
    (The notifier's advisory-lock keys are delivery ids; nothing else takes one.)"""
    locked = connection.scalar(select(func.pg_try_advisory_lock(delivery_id)))
    connection.commit()
    return bool(locked)


def unlock(connection: Connection, delivery_id: int) -> None:
    connection.scalar(select(func.pg_advisory_unlock(delivery_id)))
    connection.commit()


def mark_sending(session: Session, delivery_id: int) -> int:
    """Count a new attempt and mark it in progress; returns the attempt's number."""
    statement = (
        update(Delivery)
        .where(Delivery.id == delivery_id)
        .values(status=DeliveryStatus.SENDING, attempts=Delivery.attempts + 1)
        .returning(Delivery.attempts)
    )
    return session.execute(statement).scalar_one()


def mark_sent(session: Session, delivery_id: int, *, sent_at: datetime) -> None:
    session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id)
        .values(status=DeliveryStatus.SENT, sent_at=sent_at, last_error=None)
    )


def mark_deferred(session: Session, delivery_id: int, *, error: str) -> None:
    """The attempt failed but another will follow."""
    session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id)
        .values(status=DeliveryStatus.PENDING, last_error=error[:MAX_ERROR_LENGTH])
    )


def mark_failed(session: Session, delivery_id: int, *, error: str) -> None:
    session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id)
        .values(status=DeliveryStatus.FAILED, last_error=error[:MAX_ERROR_LENGTH])
    )
