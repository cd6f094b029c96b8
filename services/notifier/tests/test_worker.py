"""The notifier as it runs: a real worker process consuming real events from RabbitMQ,
writing to PostgreSQL and sending over SMTP to a real (scripted) server."""

import json
import re
import secrets
import uuid
from email.message import EmailMessage
from email.utils import parsedate_to_datetime

import pytest
from sqlalchemy import func, select

from tracker_contracts.messaging import NOTIFIER_EVENTS
from tracker_notifier.db import Database
from tracker_notifier.deliveries import repository
from tracker_notifier.deliveries.models import DeliveryStatus
from tracker_notifier.events.models import ProcessedEvent

from .conftest import PUBLIC_URL
from .deliveries.test_service import interrupted, new_delivery
from .support import (
    SmtpServer,
    WorkerProcess,
    delivery_to,
    publish_event,
    publish_raw,
    send_batch_task,
    take_messages,
    unique,
    wait_for,
    wait_for_mail,
    wait_for_status,
    welcome_requested,
)

pytestmark = pytest.mark.usefixtures("worker")


def test_a_registration_sends_one_welcome_mail_with_its_link(
    worker: WorkerProcess, smtp: SmtpServer, database: Database
) -> None:
    address = f"o'brien&co.{uuid.uuid4().hex[:6]}@example.com"
    token = secrets.token_urlsafe(32)
    event = welcome_requested(address, token=token)
    publish_event(event, request_id="req-welcome")

    mail = wait_for_mail(smtp, worker, address)
    delivery = wait_for_status(database, worker, address, DeliveryStatus.SENT)

    message = mail.message
    assert message["Subject"] == "Welcome to task-tracker"
    assert message["To"] == address
    assert message["From"] == "task-tracker <no-reply@tracker.example.org>"
    assert message["Message-ID"] == delivery.message_id
    assert message["Message-ID"].endswith("@tracker.example.org>")
    assert parsedate_to_datetime(message["Date"]).tzinfo is not None
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert isinstance(text, EmailMessage)
    assert isinstance(html, EmailMessage)
    assert address in text.get_content()
    assert PUBLIC_URL in text.get_content()
    html_body = html.get_content()
    assert "o&#x27;brien&amp;co." in html_body
    assert "o'brien&co" not in html_body
    assert f'href="{PUBLIC_URL}"' in html_body
    assert delivery.attempts == 1
    assert delivery.sent_at is not None
    assert "request_id=req-welcome" in worker.log_text()
    # The link, read out of the mail as a person would, carries the token in the fragment.
    [link] = re.findall(r"https://\S+#verify-email=\S+", text.get_content())
    assert link == f"{PUBLIC_URL}/#verify-email={token}"
    assert f'href="{PUBLIC_URL}/#verify-email={token}"' in html_body
    # Once sent, the token is stored nowhere and was never logged.
    assert "token" not in delivery.payload
    assert token not in json.dumps(delivery.payload)
    assert f"event_id={event.event_id}" in worker.log_text()
    assert token not in worker.log_text()


def test_the_same_event_twice_sends_one_mail(
    worker: WorkerProcess, smtp: SmtpServer, database: Database
) -> None:
    address, later = unique("twice"), unique("later")
    event = welcome_requested(address)
    publish_event(event)
    publish_event(event)
    # One worker process takes tasks in order: once the later mail is out, the duplicate
    # has been handled too.
    publish_event(welcome_requested(later))

    wait_for_mail(smtp, worker, later)
    wait_for_status(database, worker, address, DeliveryStatus.SENT)

    assert len(smtp.catcher.mails_to(address)) == 1
    with database.transaction() as session:
        recorded = session.scalar(
            select(func.count())
            .select_from(ProcessedEvent)
            .where(ProcessedEvent.event_id == event.event_id)
        )
    assert recorded == 1


def test_deferred_mail_is_retried_until_the_server_accepts_it(
    worker: WorkerProcess, smtp: SmtpServer, database: Database
) -> None:
    first, second = unique("deferred"), unique("deferred")
    smtp.catcher.script.defer.update({first: 1, second: 2})

    publish_event(welcome_requested(first))
    publish_event(welcome_requested(second))

    rows = [wait_for_status(database, worker, a, DeliveryStatus.SENT) for a in (first, second)]

    assert sorted(smtp.catcher.deferred) == sorted([first, second, second])
    assert len(smtp.catcher.mails_to(first)) == 1
    assert len(smtp.catcher.mails_to(second)) == 1
    assert [row.attempts for row in rows] == [2, 3]


def test_a_refused_recipient_fails_without_retries_and_others_still_get_mail(
    worker: WorkerProcess, smtp: SmtpServer, database: Database
) -> None:
    refused, fine = unique("nobody"), unique("fine")
    smtp.catcher.script.refuse.add(refused)

    publish_event(welcome_requested(refused))
    publish_event(welcome_requested(fine))

    failed = wait_for_status(database, worker, refused, DeliveryStatus.FAILED)
    wait_for_mail(smtp, worker, fine)
    # Longer than any retry would wait (NOTIFIER_RETRY_MAX_DELAY is 2 s in these tests).
    publish_event(welcome_requested(canary := unique("canary")))
    wait_for_mail(smtp, worker, canary)
    with pytest.raises(AssertionError):
        wait_for(lambda: len(smtp.catcher.refused) > 1, timeout=2.5)

    assert failed.attempts == 1
    assert failed.last_error is not None
    assert "550" in failed.last_error
    assert smtp.catcher.refused == [refused]
    assert delivery_to(database, refused).attempts == 1


def test_a_batch_on_several_connections_sends_every_mail_but_the_refused_one(
    worker: WorkerProcess, smtp: SmtpServer, database: Database
) -> None:
    addresses = [unique(f"batch{number}") for number in range(9)]
    refused, deferred = addresses[4], addresses[6]
    smtp.catcher.script.refuse.add(refused)
    smtp.catcher.script.defer[deferred] = 1
    send_batch_task([new_delivery(database, address) for address in addresses])

    failed = wait_for_status(database, worker, refused, DeliveryStatus.FAILED)
    sent = [
        wait_for_status(database, worker, address, DeliveryStatus.SENT)
        for address in addresses
        if address != refused
    ]

    assert failed.attempts == 1
    assert smtp.catcher.refused == [refused]
    assert smtp.catcher.deferred == [deferred]
    assert {row.to_address: row.attempts for row in sent if row.attempts != 1} == {deferred: 2}
    assert all(
        len(smtp.catcher.mails_to(address)) == 1 for address in addresses if address != refused
    )
    assert len({mail.peer for mail in smtp.catcher.mails}) > 1  # sent side by side


def envelope_json(**changes: object) -> bytes:
    envelope: dict[str, object] = {
        "event_id": str(uuid.uuid4()),
        "event_type": "user.registered",
        "occurred_at": "2026-01-01T00:00:00Z",
        "data": {"user_id": str(uuid.uuid4()), "email": "x@example.com", "timezone": "UTC"},
        **changes,
    }
    return json.dumps(envelope).encode()


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        pytest.param(b"{not json", {}, id="bad-json"),
        pytest.param(b"\xff\xfe\x00", {}, id="not-text"),
        pytest.param(envelope_json(event_type="user.exploded"), {}, id="unknown-type"),
        pytest.param(
            envelope_json(data={"user_id": "not-a-uuid", "email": "x@example.com"}),
            {},
            id="schema-violation",
        ),
        pytest.param(envelope_json(), {"event_version": 99}, id="unknown-version"),
        pytest.param(envelope_json(), {"compression": "application/x-nothing"}, id="undecodable"),
    ],
)
def test_a_malformed_message_is_dead_lettered_and_consuming_goes_on(
    worker: WorkerProcess,
    smtp: SmtpServer,
    database: Database,
    body: bytes,
    headers: dict[str, object],
) -> None:
    take_messages(NOTIFIER_EVENTS.dead_letter_queue)
    message_id = f"malformed-{uuid.uuid4()}"
    publish_raw(body, routing_key="user.registered", message_id=message_id, headers=headers)
    publish_event(welcome_requested(after := unique("after")))

    wait_for_mail(smtp, worker, after)
    dead = wait_for(
        lambda: take_messages(NOTIFIER_EVENTS.dead_letter_queue),
        what=f"the dead-lettered message; worker log:\n{worker.tail()}",
    )

    [mine] = [m for m in dead if m.properties.get("message_id") == message_id]
    assert mine.body == body
    assert "dead-lettered" in worker.log_text()
    assert worker.is_running()


def test_one_smtp_connection_carries_many_mails_and_is_reopened_when_dropped(
    worker: WorkerProcess, smtp: SmtpServer, database: Database
) -> None:
    warm_up = unique("warm")
    publish_event(welcome_requested(warm_up))
    wait_for_mail(smtp, worker, warm_up)
    opened = smtp.connections_opened

    batch = [unique("batch") for _ in range(4)]
    for address in batch:
        publish_event(welcome_requested(address))
    mails = [wait_for_mail(smtp, worker, address) for address in batch]

    assert smtp.connections_opened == opened
    assert len({mail.peer for mail in [*mails, *smtp.catcher.mails_to(warm_up)]}) == 1

    smtp.drop_connections()
    after_drop = unique("after-drop")
    publish_event(welcome_requested(after_drop))
    mail = wait_for_mail(smtp, worker, after_drop)

    assert smtp.connections_opened == opened + 1
    assert mail.peer != mails[0].peer
    delivery = wait_for_status(database, worker, after_drop, DeliveryStatus.SENT)
    assert delivery.attempts == 1


def test_a_delivery_locked_by_a_dying_worker_is_sent_once_the_lock_is_gone(
    worker: WorkerProcess, smtp: SmtpServer, database: Database
) -> None:
    """A worker killed mid-send leaves its delivery 'sending' and its advisory lock held
    until its database connection ends, which may be after the broker gave its task to
    another worker: that one finds the delivery busy, and looks again later."""
    address = unique("dying")
    delivery_id = new_delivery(database, address)
    interrupted(database, delivery_id)
    with database.engine.connect() as dying_worker:
        assert repository.try_lock(dying_worker, [delivery_id]) == [delivery_id]
        send_batch_task([delivery_id])
        wait_for(
            lambda: (
                f"held by another task; looking again in 5 s delivery_id={delivery_id}"
                in worker.log_text()
            ),
            timeout=10,
        )
        dying_worker.invalidate()  # its connection ends, and the lock with it

    row = wait_for_status(database, worker, address, DeliveryStatus.SENT)
    assert len(smtp.catcher.mails_to(address)) == 1
    assert row.attempts == 2
