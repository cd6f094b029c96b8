"""Every mail kind stored as a delivery and sent from what was stored, and a stored
payload that no longer validates, against the real database and a real SMTP server."""

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import update

from tracker_notifier.db import Database
from tracker_notifier.deliveries import repository
from tracker_notifier.deliveries.models import Delivery, DeliveryStatus
from tracker_notifier.deliveries.service import DeliverySender, Outcome
from tracker_notifier.mail import messages
from tracker_notifier.mail.kinds import MAIL_KINDS
from tracker_notifier.recipients.repository import upsert_recipient

from ..conftest import MAIL_FROM, make_settings
from ..mail.test_kinds import EXAMPLES
from ..support import SmtpServer
from .test_service import load, new_delivery


def recipient(database: Database, email: str) -> uuid.UUID:
    user_id = uuid.uuid4()
    with database.transaction() as session:
        upsert_recipient(
            session,
            user_id=user_id,
            email=email,
            timezone="Europe/Berlin",
            digest_enabled=True,
            reminders_enabled=True,
            email_verified=True,
            changed_at=datetime.now(UTC),
        )
    return user_id


@pytest.mark.parametrize("kind", sorted(MAIL_KINDS))
def test_every_kind_is_stored_and_sent_from_its_row(
    database: Database, smtp: SmtpServer, sender: DeliverySender, kind: str
) -> None:
    example = EXAMPLES[kind]
    user_id = recipient(database, "ada@example.com")
    message_id = messages.new_message_id(make_settings(mail_from=MAIL_FROM).mail_from_address)
    with database.transaction() as session:
        delivery_id = repository.create_delivery(
            session,
            payload=example,
            user_id=user_id,
            to_address="ada@example.com",
            message_id=message_id,
        )
        again = repository.create_delivery(
            session,
            payload=example,
            user_id=user_id,
            to_address="ada@example.com",
            message_id=message_id,
        )
    assert delivery_id is not None
    assert again is None

    stored = load(database, delivery_id)
    assert (stored.kind, stored.idempotency_key, stored.subject) == (
        kind,
        example.idempotency_key(user_id),
        example.subject(),
    )
    assert sender.send(delivery_id).outcome is Outcome.SENT
    [mail] = smtp.catcher.mails
    assert mail.message["Subject"] == example.subject()
    assert mail.message["Message-ID"] == message_id
    assert mail.message.get_body(("plain",)) is not None
    assert mail.message.get_body(("html",)) is not None


def test_a_batch_is_stored_in_one_go_and_skips_existing_keys(database: Database) -> None:
    users = [recipient(database, f"user{number}@example.com") for number in range(3)]
    new = [
        repository.NewDelivery(
            payload=EXAMPLES["digest"],
            user_id=user_id,
            to_address=f"user{number}@example.com",
            message_id=f"<{number}@example.org>",
        )
        for number, user_id in enumerate(users)
    ]
    with database.transaction() as session:
        first = repository.create_deliveries(session, new[:2])
        second = repository.create_deliveries(session, new)

    assert len(first) == 2
    assert len(second) == 1
    assert load(database, second[0]).idempotency_key == EXAMPLES["digest"].idempotency_key(users[2])


def test_a_stored_payload_that_no_longer_validates_fails_only_its_delivery(
    database: Database, smtp: SmtpServer, sender: DeliverySender
) -> None:
    ids = [new_delivery(database, f"{name}@example.com") for name in ("a", "broken", "b")]
    single = new_delivery(database, "alone@example.com")
    with database.transaction() as session:
        session.execute(
            update(Delivery)
            .where(Delivery.id.in_([ids[1], single]))
            .values(payload={"greeting": "a field no model has"})
        )

    batch = sender.send_batch(ids)
    alone = sender.send(single)

    assert [batch.results[delivery_id].outcome for delivery_id in ids] == [
        Outcome.SENT,
        Outcome.FAILED,
        Outcome.SENT,
    ]
    assert alone.outcome is Outcome.FAILED
    for delivery_id in (ids[1], single):
        failed = load(database, delivery_id)
        assert failed.status is DeliveryStatus.FAILED
        assert failed.last_error == (
            "cannot build the mail: InvalidPayload: the stored 'welcome' payload is invalid: "
            "greeting: Extra inputs are not permitted"
        )
    assert [mail.recipients for mail in smtp.catcher.mails] == [
        ["a@example.com"],
        ["b@example.com"],
    ]


def test_a_mail_carries_the_subject_stored_at_its_creation(
    database: Database, smtp: SmtpServer, sender: DeliverySender
) -> None:
    delivery_id = new_delivery(database)
    # As if the wording had changed in a deploy between storing the mail and sending it.
    with database.transaction() as session:
        session.execute(
            update(Delivery).where(Delivery.id == delivery_id).values(subject="Welcome aboard")
        )

    assert sender.send(delivery_id).outcome is Outcome.SENT

    [mail] = smtp.catcher.mails
    assert mail.message["Subject"] == "Welcome aboard"
