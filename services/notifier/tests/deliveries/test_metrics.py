"""What the senders count, by the kind of mail: sent, retried, failed for good."""

from tests.support.metrics import sample
from tracker_notifier.db import Database
from tracker_notifier.deliveries.service import DeliverySender, Outcome

from ..support import SmtpServer
from .test_service import load, new_delivery


def counts(kind: str) -> dict[str, float]:
    return {
        outcome: sample(f"tracker_mails_{outcome}_total", kind=kind)
        for outcome in ("sent", "retried", "failed")
    }


def test_a_sent_mail_is_counted_once(
    database: Database, smtp: SmtpServer, sender: DeliverySender
) -> None:
    delivery_id = new_delivery(database, "sent@example.com")
    kind = load(database, delivery_id).kind
    before = counts(kind)

    assert sender.send(delivery_id).outcome is Outcome.SENT
    assert sender.send(delivery_id).outcome is Outcome.FINISHED_BEFORE

    assert counts(kind) == {**before, "sent": before["sent"] + 1}


def test_deferred_attempts_count_as_retried_then_failed(
    database: Database, smtp: SmtpServer, sender: DeliverySender
) -> None:
    delivery_id = new_delivery(database, "deferred@example.com")
    kind = load(database, delivery_id).kind
    smtp.catcher.script.defer["deferred@example.com"] = 10
    before = counts(kind)

    outcomes = [sender.send(delivery_id).outcome for _ in range(3)]

    assert outcomes == [Outcome.RETRY, Outcome.RETRY, Outcome.FAILED]
    assert counts(kind) == {
        "sent": before["sent"],
        "retried": before["retried"] + 2,
        "failed": before["failed"] + 1,
    }


def test_a_batch_counts_each_mail_by_its_kind(
    database: Database, smtp: SmtpServer, sender: DeliverySender
) -> None:
    ids = [new_delivery(database, f"batch{number}@example.com") for number in range(3)]
    kind = load(database, ids[0]).kind
    smtp.catcher.script.refuse.add("batch1@example.com")
    before = counts(kind)

    sender.send_batch(ids)

    assert counts(kind) == {
        "sent": before["sent"] + 2,
        "retried": before["retried"],
        "failed": before["failed"] + 1,
    }
