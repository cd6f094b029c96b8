"""Sending a batch of deliveries (a digest batch) over one connection, against the real
database and a real SMTP server."""

from tracker_notifier.db import Database
from tracker_notifier.deliveries import repository
from tracker_notifier.deliveries.models import DeliveryStatus
from tracker_notifier.deliveries.service import DeliverySender, Outcome

from ..support import SmtpServer
from .test_service import interrupted, load, new_delivery


def test_a_batch_sends_each_mail_once_over_one_connection(
    database: Database, smtp: SmtpServer, sender: DeliverySender
) -> None:
    ids = [new_delivery(database, f"user{number}@example.com") for number in range(5)]

    first = sender.send_batch(ids)
    again = sender.send_batch(ids)

    assert {result.outcome for result in first.results.values()} == {Outcome.SENT}
    assert {result.outcome for result in again.results.values()} == {Outcome.FINISHED_BEFORE}
    assert first.untried == again.untried == []
    assert len(smtp.catcher.mails) == 5
    assert len({mail.peer for mail in smtp.catcher.mails}) == 1
    for delivery_id in ids:
        delivery = load(database, delivery_id)
        assert (delivery.status, delivery.attempts) == (DeliveryStatus.SENT, 1)


def test_a_refused_recipient_fails_alone_and_a_deferred_one_is_retried(
    database: Database, smtp: SmtpServer, sender: DeliverySender
) -> None:
    ids = [new_delivery(database, f"{name}@example.com") for name in ("a", "gone", "later", "b")]
    smtp.catcher.script.refuse.add("gone@example.com")
    smtp.catcher.script.defer["later@example.com"] = 1

    batch = sender.send_batch(ids)

    outcomes = [batch.results[delivery_id].outcome for delivery_id in ids]
    assert outcomes == [Outcome.SENT, Outcome.FAILED, Outcome.RETRY, Outcome.SENT]
    assert load(database, ids[2]).status is DeliveryStatus.PENDING
    assert [mail.recipients for mail in smtp.catcher.mails] == [
        ["a@example.com"],
        ["b@example.com"],
    ]


def test_two_deferrals_in_a_row_give_the_rest_back_untried(
    database: Database, smtp: SmtpServer, sender: DeliverySender
) -> None:
    ids = [new_delivery(database, f"user{number}@example.com") for number in range(5)]
    for number in range(5):
        smtp.catcher.script.defer[f"user{number}@example.com"] = 1

    batch = sender.send_batch(ids)

    assert [batch.results[delivery_id].outcome for delivery_id in ids[:2]] == [Outcome.RETRY] * 2
    assert batch.untried == ids[2:]
    for delivery_id in ids[2:]:
        delivery = load(database, delivery_id)
        assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 0)
    assert smtp.catcher.mails == []


def test_locked_and_interrupted_deliveries(
    database: Database, smtp: SmtpServer, sender: DeliverySender
) -> None:
    busy, cut_short = new_delivery(database, "busy@example.com"), new_delivery(database)
    interrupted(database, cut_short)
    with database.engine.connect() as other_worker:
        assert repository.try_lock(other_worker, [busy]) == [busy]
        batch = sender.send_batch([busy, cut_short])
        repository.unlock(other_worker, [busy])

    assert batch.results[busy].outcome is Outcome.BUSY
    assert batch.results[cut_short].outcome is Outcome.SENT
    assert load(database, cut_short).attempts == 2
    assert load(database, busy).status is DeliveryStatus.PENDING
    assert [mail.recipients for mail in smtp.catcher.mails] == [["ada@example.com"]]
