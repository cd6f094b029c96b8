"""The reminders tick in the test process, on the real database and SMTP server: who gets
a reminder, when, how many times, and what the mail says."""

import re
import threading
import uuid
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from tests.support.events import task_event
from tests.support.metrics import sample
from tracker_notifier.config import Settings
from tracker_notifier.db import Database
from tracker_notifier.deliveries.models import Delivery
from tracker_notifier.deliveries.service import DeliverySender
from tracker_notifier.mail.kinds import Digest, Reminder
from tracker_notifier.reminders import repository
from tracker_notifier.reminders.service import ReminderRun
from tracker_runtime import unsubscribe

from ..conftest import PUBLIC_URL, make_settings
from ..support import SmtpServer, handle
from .helpers import Ticks, person

GRACE = timedelta(minutes=30)


@pytest.fixture
def settings() -> Settings:
    return make_settings(reminder_grace=GRACE)


@pytest.fixture
def ticks(database: Database, settings: Settings) -> Ticks:
    return Ticks(database, settings)


def reminder_mails(database: Database) -> int:
    with database.transaction() as session:
        return int(
            session.scalar(
                select(func.count()).select_from(Delivery).where(Delivery.kind == "reminder")
            )
            or 0
        )


def test_a_reminder_is_not_fired_before_its_instant(
    database: Database, settings: Settings, ticks: Ticks
) -> None:
    user, task = person(database, settings, "ada@example.com"), uuid.uuid4()
    at = datetime.now(UTC) + timedelta(seconds=30)
    handle(database, task_event(task, user, reminder_at=at), settings)

    early = ticks.run().fire_due(at - timedelta(microseconds=1))
    on_time = ticks.run().fire_due(at)

    assert (early.queued, on_time.queued) == (0, 1)


def test_two_ticks_side_by_side_fire_each_reminder_once(
    database: Database, settings: Settings
) -> None:
    users = [person(database, settings, f"user{n}@example.com") for n in range(20)]
    at = datetime.now(UTC) - timedelta(seconds=1)
    for number in range(1200):
        handle(database, task_event(uuid.uuid4(), users[number % 20], reminder_at=at), settings)
    runs = [Ticks(database, settings) for _ in range(4)]
    barrier = threading.Barrier(len(runs))

    def fire(ticks: Ticks) -> None:
        barrier.wait()
        ticks.run().fire_due(datetime.now(UTC))

    threads = [threading.Thread(target=fire, args=(ticks,)) for ticks in runs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    queued = [delivery_id for ticks in runs for delivery_id in ticks.queued]
    assert len(queued) == len(set(queued)) == 1200
    assert reminder_mails(database) == 1200


def test_a_reminder_older_than_the_grace_is_skipped_and_counted(
    database: Database, settings: Settings, ticks: Ticks, caplog: pytest.LogCaptureFixture
) -> None:
    user = person(database, settings, "ada@example.com")
    late, in_grace = uuid.uuid4(), uuid.uuid4()
    now = datetime.now(UTC)
    handle(
        database, task_event(late, user, reminder_at=now - GRACE - timedelta(seconds=1)), settings
    )
    handle(
        database,
        task_event(in_grace, user, reminder_at=now - GRACE + timedelta(minutes=1)),
        settings,
    )

    lateness_count = sample("tracker_reminder_lateness_seconds_count")
    lateness_sum = sample("tracker_reminder_lateness_seconds_sum")
    skipped_late = sample("tracker_reminders_skipped_total", reason="late")

    report = ticks.run().fire_due(now)

    assert (report.queued, report.late) == (1, 1)
    assert sample("tracker_reminder_lateness_seconds_count") == lateness_count + 1
    fired_late = sample("tracker_reminder_lateness_seconds_sum") - lateness_sum
    assert (GRACE - timedelta(minutes=1)).total_seconds() == pytest.approx(fired_late)
    assert sample("tracker_reminders_skipped_total", reason="late") == skipped_late + 1
    with database.transaction() as session:
        assert repository.skipped(session) == {"late": 1}
        [key] = session.scalars(select(Delivery.idempotency_key))
    assert key.startswith(f"reminder:{in_grace}:")
    [skipped] = [record for record in caplog.records if "reminder skipped" in record.message]
    assert skipped.task_id == str(late)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "who",
    [
        pytest.param({"reminders_enabled": False}, id="reminders off"),
        pytest.param({"email_verified": False}, id="address not confirmed"),
    ],
)
def test_only_confirmed_addresses_with_reminders_on_get_one(
    database: Database, settings: Settings, ticks: Ticks, who: dict[str, bool]
) -> None:
    user = person(
        database,
        settings,
        "ada@example.com",
        reminders_enabled=who.get("reminders_enabled", True),
        email_verified=who.get("email_verified", True),
    )
    handle(database, task_event(uuid.uuid4(), user, reminder_at=datetime.now(UTC)), settings)
    handle(
        database, task_event(uuid.uuid4(), uuid.uuid4(), reminder_at=datetime.now(UTC)), settings
    )

    report = ticks.run().fire_due(datetime.now(UTC))

    assert (report.queued, report.unwanted) == (0, 2)
    with database.transaction() as session:
        assert repository.skipped(session) == {"unwanted": 2}


def test_a_tick_arranges_wake_ups_at_the_seconds_reminders_fall_due(
    database: Database, settings: Settings, ticks: Ticks
) -> None:
    user = person(database, settings, "ada@example.com")
    now = datetime.now(UTC).replace(microsecond=0)
    for offset in (1.2, 1.7, 5.0, 30.0):
        at = now + timedelta(seconds=offset)
        handle(database, task_event(uuid.uuid4(), user, reminder_at=at), settings)

    ticks.run().plan(now, now + timedelta(seconds=20))

    assert ticks.wake_ups == [now + timedelta(seconds=2), now + timedelta(seconds=5)]


def test_the_reminder_mail_says_what_when_and_links_to_the_task(
    database: Database, smtp: SmtpServer, sender: DeliverySender
) -> None:
    settings = make_settings()
    address = "o'brien@example.com"
    user = person(database, settings, address, timezone="Pacific/Kiritimati")
    task = uuid.uuid4()
    title = "Pay <the> rent & call O'Brien"
    handle(
        database,
        task_event(
            task,
            user,
            title=title,
            reminder_at=datetime.now(UTC),
            due_date=date(2026, 12, 4),
            due_time="09:30",
        ),
        settings,
    )
    ticks = Ticks(database, settings)
    ticks.run().fire_due(datetime.now(UTC))

    [delivery_id] = ticks.queued
    sender.send_batch([delivery_id])

    [mail] = smtp.catcher.mails_to(address)
    message = mail.message
    assert message["Subject"] == f"Reminder: {title}"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert isinstance(text, EmailMessage)
    assert isinstance(html, EmailMessage)
    body = text.get_content()
    assert title in body
    assert "Friday, 4 December 2026 at 09:30 (Pacific/Kiritimati)" in body
    assert f"{PUBLIC_URL}/#task={task}" in body
    html_body = html.get_content()
    assert "Pay &lt;the&gt; rent &amp; call O&#x27;Brien" in html_body
    assert f'href="{PUBLIC_URL}/#task={task}"' in html_body
    # One-click unsubscribe (RFC 8058), from reminders.
    [link] = re.findall(r"<([^>]+)>", message["List-Unsubscribe"])
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert link in body
    [token] = parse_qs(urlsplit(link).query)["token"]
    verified = unsubscribe.verify(token, settings.unsubscribe_secret.get_secret_value())
    assert verified == unsubscribe.Unsubscription(user, unsubscribe.MailList.REMINDERS)


def test_a_task_without_a_due_date_says_so(
    database: Database, smtp: SmtpServer, sender: DeliverySender
) -> None:
    settings = make_settings()
    user = person(database, settings, "ada@example.com")
    handle(database, task_event(uuid.uuid4(), user, reminder_at=datetime.now(UTC)), settings)
    ticks = Ticks(database, settings)
    ticks.run().fire_due(datetime.now(UTC))

    sender.send_batch(ticks.queued)

    [mail] = smtp.catcher.mails_to("ada@example.com")
    text = mail.message.get_body(("plain",))
    assert isinstance(text, EmailMessage)
    assert "It has no due date." in text.get_content()


def test_a_digest_still_carries_a_digest_unsubscribe_link() -> None:
    assert Digest.UNSUBSCRIBE is unsubscribe.MailList.DIGEST
    assert Reminder.UNSUBSCRIBE is unsubscribe.MailList.REMINDERS


def test_the_run_reports_nothing_when_nothing_is_due(
    database: Database, settings: Settings
) -> None:
    run = ReminderRun(database, settings, enqueue=lambda ids: None, wake_up=lambda at: None)

    report = run.tick(datetime.now(UTC), horizon=20)

    assert (report.queued, report.late, report.unwanted, report.wake_ups) == (0, 0, 0, 0)
