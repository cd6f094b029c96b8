"""Sending deliveries against the real database and a real SMTP server, without a worker."""

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from tests.support.events import TOKEN, reset_requested, verification_requested
from tracker_notifier.db import Database
from tracker_notifier.deliveries import repository
from tracker_notifier.deliveries.models import Delivery, DeliveryStatus
from tracker_notifier.deliveries.service import DeliverySender, Outcome, retry_delay
from tracker_notifier.events.service import handle_event
from tracker_notifier.mail import kinds
from tracker_notifier.mail.kinds import Welcome

from ..conftest import make_settings
from ..support import SmtpServer


def new_delivery(database: Database, email: str = "ada@example.com") -> int:
    with database.transaction() as session:
        [delivery_id] = handle_event(
            session, verification_requested(uuid.uuid4(), email), make_settings()
        )
    return delivery_id


def interrupted(database: Database, delivery_id: int) -> None:
    """Leave the delivery as a worker killed mid-send does: ``sending``, one attempt."""
    with database.transaction() as session:
        session.execute(
            update(Delivery)
            .where(Delivery.id == delivery_id)
            .values(status=DeliveryStatus.SENDING, attempts=1)
        )


def load(database: Database, delivery_id: int) -> Delivery:
    with database.transaction() as session:
        delivery = session.get(Delivery, delivery_id)
    assert delivery is not None
    return delivery


def test_a_sent_delivery_is_never_sent_again(
    database: Database, smtp: SmtpServer, sender: DeliverySender
) -> None:
    delivery_id = new_delivery(database)

    assert sender.send(delivery_id).outcome is Outcome.SENT
    assert sender.send(delivery_id).outcome is Outcome.FINISHED_BEFORE

    assert len(smtp.catcher.mails) == 1
    delivery = load(database, delivery_id)
    assert delivery.status is DeliveryStatus.SENT
    assert delivery.attempts == 1
    assert delivery.sent_at is not None


def test_transient_failures_retry_until_the_cap_then_fail(
    database: Database, smtp: SmtpServer, sender: DeliverySender
) -> None:
    delivery_id = new_delivery(database)
    smtp.catcher.script.defer["ada@example.com"] = 10

    results = [sender.send(delivery_id) for _ in range(3)]

    assert [result.outcome for result in results] == [Outcome.RETRY, Outcome.RETRY, Outcome.FAILED]
    assert all(result.retry_in and result.retry_in >= 1 for result in results[:2])
    delivery = load(database, delivery_id)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, 3)
    assert delivery.last_error is not None
    assert "451" in delivery.last_error
    assert smtp.catcher.mails == []


def test_a_delivery_locked_by_another_task_is_left_alone(
    database: Database, smtp: SmtpServer, sender: DeliverySender
) -> None:
    delivery_id = new_delivery(database)
    with database.engine.connect() as other_worker:
        assert repository.try_lock(other_worker, [delivery_id]) == [delivery_id]
        assert sender.send(delivery_id).outcome is Outcome.BUSY
        repository.unlock(other_worker, [delivery_id])

    assert smtp.catcher.mails == []
    assert sender.send(delivery_id).outcome is Outcome.SENT


def test_an_interrupted_send_is_sent_again(
    database: Database, smtp: SmtpServer, sender: DeliverySender
) -> None:
    delivery_id = new_delivery(database)
    interrupted(database, delivery_id)

    assert sender.send(delivery_id).outcome is Outcome.SENT

    assert len(smtp.catcher.mails) == 1
    assert load(database, delivery_id).attempts == 2


def test_an_accepted_mail_is_recorded_without_sending_it_again(
    database: Database, smtp: SmtpServer, sender: DeliverySender
) -> None:
    delivery_id = new_delivery(database)
    accepted_at = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)

    assert sender.send(delivery_id, accepted_at=accepted_at).outcome is Outcome.SENT

    assert smtp.catcher.mails == []
    delivery = load(database, delivery_id)
    assert (delivery.status, delivery.sent_at) == (DeliveryStatus.SENT, accepted_at)


def test_a_missing_delivery_is_reported(sender: DeliverySender) -> None:
    assert sender.send(2**62).outcome is Outcome.MISSING


def test_retry_delays_grow_exponentially_with_jitter_and_a_cap() -> None:
    for attempt, ceiling in [(1, 10), (2, 20), (3, 40), (8, 300)]:
        delays = [retry_delay(attempt, base=10, cap=300) for _ in range(200)]
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
        assert len(set(delays)) > 1
    assert retry_delay(1, base=1, cap=1) == 1


def test_a_link_mail_sent_keeps_no_token(
    database: Database, smtp: SmtpServer, sender: DeliverySender
) -> None:
    delivery_id = new_delivery(database, "ada@example.com")
    assert load(database, delivery_id).payload["token"] == TOKEN

    assert sender.send(delivery_id).outcome is Outcome.SENT

    [mail] = smtp.catcher.mails
    text = mail.message.get_body(("plain",))
    assert text is not None
    assert f"#verify-email={TOKEN}" in text.get_content()
    assert "token" not in load(database, delivery_id).payload
    assert kinds.stored("welcome", load(database, delivery_id).payload) == Welcome(
        expires_at=load(database, delivery_id).payload["expires_at"]
    )


def test_a_link_that_expired_before_it_could_be_sent_is_not_sent(
    database: Database, smtp: SmtpServer, sender: DeliverySender
) -> None:
    expired = datetime.now(UTC) - timedelta(seconds=1)
    with database.transaction() as session:
        [alone] = handle_event(
            session,
            verification_requested(uuid.uuid4(), "late@example.com", expires_at=expired),
            make_settings(),
        )
        [in_batch] = handle_event(
            session,
            reset_requested(uuid.uuid4(), "later@example.com", expires_at=expired),
            make_settings(),
        )
    fine = new_delivery(database, "fine@example.com")

    assert sender.send(alone).outcome is Outcome.EXPIRED
    batch = sender.send_batch([in_batch, fine])

    assert batch.results[in_batch].outcome is Outcome.EXPIRED
    assert batch.results[fine].outcome is Outcome.SENT
    assert [mail.recipients for mail in smtp.catcher.mails] == [["fine@example.com"]]
    for delivery_id in (alone, in_batch):
        failed = load(database, delivery_id)
        assert failed.status is DeliveryStatus.FAILED
        assert failed.last_error is not None
        assert failed.last_error.startswith("expired: the link expired at ")
        assert "token" not in failed.payload


def test_a_welcome_stored_before_confirmation_links_is_still_sent(
    database: Database, smtp: SmtpServer, sender: DeliverySender
) -> None:
    delivery_id = new_delivery(database, "early@example.com")
    with database.transaction() as session:
        session.execute(update(Delivery).where(Delivery.id == delivery_id).values(payload={}))

    assert sender.send(delivery_id).outcome is Outcome.SENT

    [mail] = smtp.catcher.mails
    text = mail.message.get_body(("plain",))
    assert text is not None
    assert "welcome to task-tracker" in text.get_content()
    assert "verify-email" not in text.get_content()
