"""The digest tick's sweep of mails whose send task was lost, against the real database
and a real SMTP server."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from tests.support.metrics import sample
from tracker_notifier.db import Database
from tracker_notifier.deliveries.models import Delivery, DeliveryStatus
from tracker_notifier.deliveries.service import DeliverySender, Outcome
from tracker_notifier.digest.service import DigestRun
from tracker_notifier.digest.summaries import SummariesClient
from tracker_notifier.recipients.models import Recipient

from ..conftest import make_settings
from ..deliveries.test_service import load, new_delivery
from ..support import SmtpServer


def tick(database: Database, now: datetime) -> list[int]:
    """One tick at ``now`` with no digest due (every recipient turned it off); returns
    the delivery ids it handed to the senders."""
    settings = make_settings(stale_sending_after=timedelta(minutes=30))
    with database.transaction() as session:
        session.execute(update(Recipient).values(digest_enabled=False))
    enqueued: list[int] = []
    summaries = SummariesClient(settings)
    try:
        DigestRun(database, summaries, settings, enqueue=enqueued.extend).tick(now)
    finally:
        summaries.close()
    return enqueued


def left_sending(database: Database, delivery_id: int, since: datetime) -> None:
    with database.transaction() as session:
        session.execute(
            update(Delivery)
            .where(Delivery.id == delivery_id)
            .values(status=DeliveryStatus.SENDING, attempts=1, attempted_at=since)
        )


def test_a_mail_left_sending_too_long_is_handed_to_a_sender_again(
    database: Database, smtp: SmtpServer, sender: DeliverySender
) -> None:
    now = datetime.now(UTC)
    stuck = new_delivery(database, "stuck@example.com")
    recent = new_delivery(database, "recent@example.com")
    left_sending(database, stuck, now - timedelta(hours=2))
    left_sending(database, recent, now - timedelta(minutes=1))

    enqueued = tick(database, now)
    batch = sender.send_batch(enqueued)

    assert enqueued == [stuck]
    assert batch.results[stuck].outcome is Outcome.SENT
    delivered = load(database, stuck)
    assert (delivered.status, delivered.attempts) == (DeliveryStatus.SENT, 2)
    [mail] = smtp.catcher.mails
    assert mail.recipients == ["stuck@example.com"]
    assert mail.message["Message-ID"] == delivered.message_id  # the same mail, if twice
    assert load(database, recent).status is DeliveryStatus.SENDING


def test_a_send_records_when_its_attempt_began(
    database: Database, smtp: SmtpServer, sender: DeliverySender
) -> None:
    single, batched = new_delivery(database, "single@example.com"), new_delivery(database)
    smtp.catcher.script.defer["single@example.com"] = 1
    before = datetime.now(UTC)

    sender.send(single)
    sender.send_batch([batched])

    for delivery_id in (single, batched):
        attempted_at = load(database, delivery_id).attempted_at
        assert attempted_at is not None
        assert attempted_at >= before - timedelta(seconds=1)


def test_each_tick_is_counted_and_timed(database: Database) -> None:
    completed = sample("tracker_digest_runs_total", outcome="completed")
    timed = sample("tracker_digest_duration_seconds_count")
    users = sample("tracker_digest_users_total")

    tick(database, datetime.now(UTC))

    assert sample("tracker_digest_runs_total", outcome="completed") == completed + 1
    assert sample("tracker_digest_duration_seconds_count") == timed + 1
    assert sample("tracker_digest_users_total") == users, "nobody's digest was due"
