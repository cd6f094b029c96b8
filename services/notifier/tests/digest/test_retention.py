"""The digest tick's housekeeping forgets the inbox and finished mails after their
retention, against the real database."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import select, update

from tracker_notifier.config import Settings
from tracker_notifier.db import Database
from tracker_notifier.deliveries.models import Delivery, DeliveryStatus
from tracker_notifier.digest import service
from tracker_notifier.digest.service import DigestRun
from tracker_notifier.digest.summaries import SummariesClient
from tracker_notifier.events.models import ProcessedEvent
from tracker_notifier.recipients.models import Recipient

from ..conftest import make_settings
from ..deliveries.test_service import new_delivery

INBOX_RETENTION = timedelta(days=7)  # the defaults
DELIVERY_RETENTION = timedelta(days=90)


def tick(database: Database, settings: Settings) -> None:
    """One tick now with no digest due (every recipient turned it off)."""
    with database.transaction() as session:
        session.execute(update(Recipient).values(digest_enabled=False))
    summaries = SummariesClient(settings)
    try:
        DigestRun(database, summaries, settings, enqueue=lambda _: None).tick(datetime.now(UTC))
    finally:
        summaries.close()


def age_delivery(
    database: Database, delivery_id: int, status: DeliveryStatus, age: timedelta
) -> None:
    with database.transaction() as session:
        session.execute(
            update(Delivery)
            .where(Delivery.id == delivery_id)
            .values(status=status, created_at=datetime.now(UTC) - age)
        )


def age_event(database: Database, event_id: uuid.UUID, age: timedelta) -> None:
    with database.transaction() as session:
        session.execute(
            update(ProcessedEvent)
            .where(ProcessedEvent.event_id == event_id)
            .values(processed_at=datetime.now(UTC) - age)
        )


def delivery_ids(database: Database) -> set[int]:
    with database.transaction() as session:
        return set(session.scalars(select(Delivery.id)))


def event_ids(database: Database) -> set[uuid.UUID]:
    with database.transaction() as session:
        return set(session.scalars(select(ProcessedEvent.event_id)))


def test_finished_mails_are_forgotten_after_the_delivery_retention(database: Database) -> None:
    old = DELIVERY_RETENTION + timedelta(days=1)
    recent = DELIVERY_RETENTION - timedelta(days=1)
    ids = {name: new_delivery(database, f"{name}@example.com") for name in ("a", "b", "c", "d")}
    age_delivery(database, ids["a"], DeliveryStatus.SENT, old)
    age_delivery(database, ids["b"], DeliveryStatus.FAILED, old)
    age_delivery(database, ids["c"], DeliveryStatus.SENT, recent)
    age_delivery(database, ids["d"], DeliveryStatus.PENDING, old)  # still owed: kept

    tick(database, make_settings())

    assert delivery_ids(database) == {ids["c"], ids["d"]}


def test_inbox_entries_are_forgotten_after_the_inbox_retention(database: Database) -> None:
    for email in ("a@example.com", "b@example.com"):
        new_delivery(database, email)
    old, recent = sorted(event_ids(database))
    age_event(database, old, INBOX_RETENTION + timedelta(hours=1))
    age_event(database, recent, INBOX_RETENTION - timedelta(hours=1))

    tick(database, make_settings())

    assert event_ids(database) == {recent}


def test_a_large_backlog_is_deleted_in_batches(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "RETENTION_BATCH_SIZE", 2)
    for number in range(5):
        delivery_id = new_delivery(database, f"user{number}@example.com")
        age_delivery(database, delivery_id, DeliveryStatus.SENT, DELIVERY_RETENTION * 2)
    for event_id in event_ids(database):
        age_event(database, event_id, INBOX_RETENTION * 2)

    tick(database, make_settings())

    assert delivery_ids(database) == set()
    assert event_ids(database) == set()


def test_the_inbox_must_outlive_redeliveries() -> None:
    with pytest.raises(ValidationError, match="at least a day"):
        make_settings(inbox_retention=timedelta(hours=12))
    with pytest.raises(ValidationError, match="greater than 0"):
        make_settings(delivery_retention=timedelta(0))
    settings = make_settings(inbox_retention="P14D", delivery_retention="P30D")
    assert (settings.inbox_retention, settings.delivery_retention) == (
        timedelta(days=14),
        timedelta(days=30),
    )
