"""Reminders as they run: two notifier workers and two beats (real Celery processes on the
test virtual host), task events published to RabbitMQ, mail read from the SMTP server."""

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from devsupport.processes import spawn, stop_process
from tests.support.events import task_deleted, task_event, user_registered, user_verified_state
from tracker_notifier.db import Database
from tracker_notifier.deliveries.models import DeliveryStatus

from .conftest import Workers
from .support import (
    ROOT,
    SmtpServer,
    delivery_to,
    publish_event,
    unique,
    wait_for,
    wait_for_status,
    welcome_requested,
)

INTERVAL = 3


class Beats:
    """``celery beat`` processes of the scheduler, each with its own schedule file."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._started: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        number = len(self._started)
        environment = {
            **os.environ,
            "ENVIRONMENT": "test",
            "LOG_LEVEL": "INFO",
            "LOG_JSON": "false",
            "SCHEDULER_DATA_DIR": str(self._directory / f"beat{number}"),
            "SCHEDULER_DIGEST_CRON": "0 0 1 1 *",
            "SCHEDULER_REMINDER_INTERVAL": str(INTERVAL),
        }
        self._started.append(
            spawn(
                [sys.executable, "-m", "celery", "-A", "tracker_scheduler.beat", "beat"],
                log=self._directory / f"beat{number}.log",
                environment=environment,
                cwd=ROOT,
            )
        )

    def stop_all(self) -> None:
        for process in self._started:
            stop_process(process, signal_number=signal.SIGKILL)


@pytest.fixture
def beats(tmp_path: Path) -> Iterator[Beats]:
    running = Beats(tmp_path)
    try:
        yield running
    finally:
        running.stop_all()


def someone(address: str) -> uuid.UUID:
    """A confirmed person with reminders on, through the events auth publishes."""
    registered = user_registered(address, timezone="Asia/Tokyo")
    user_id: uuid.UUID = registered.data.user_id  # type: ignore[attr-defined]
    publish_event(registered)
    publish_event(user_verified_state(user_id, email=address, timezone="Asia/Tokyo"))
    return user_id


def test_two_workers_and_two_beats_send_each_reminder_once_on_time(
    workers: Workers, beats: Beats, smtp: SmtpServer, database: Database
) -> None:
    first, second = workers.start(), workers.start()
    beats.start()
    beats.start()
    people = {unique(f"reminded{n}"): uuid.UUID(int=0) for n in range(3)}
    for address in people:
        people[address] = someone(address)
    due = datetime.now(UTC) + timedelta(seconds=8)
    expected: dict[str, datetime] = {}
    for number in range(30):
        address = list(people)[number % 3]
        at = due + timedelta(milliseconds=137 * number)
        publish_event(task_event(uuid.uuid4(), people[address], title=f"T{number}", reminder_at=at))
        expected[f"Reminder: T{number}"] = at
    # Cancelled before they fire: done, deleted, cleared; and one moved later.
    quiet = unique("quiet")
    quiet_user = someone(quiet)
    done, deleted, cleared, moved = (uuid.uuid4() for _ in range(4))
    for task in (done, deleted, cleared, moved):
        publish_event(task_event(task, quiet_user, title="cancelled", reminder_at=due))
    publish_event(task_event(done, quiet_user, version=2, status="done", reminder_at=due))
    publish_event(task_deleted(deleted, quiet_user))
    publish_event(task_event(cleared, quiet_user, version=2, reminder_at=None))
    moved_to = due + timedelta(seconds=6)
    publish_event(task_event(moved, quiet_user, version=2, title="moved", reminder_at=moved_to))

    wait_for(
        lambda: (
            sum(len(smtp.catcher.mails_to(a)) for a in people) >= 30
            and smtp.catcher.mails_to(quiet)
        ),
        timeout=60,
        what=f"the reminders; worker logs:\n{first.tail()}\n---\n{second.tail()}",
    )
    # Room for a duplicate to show up, if there were one.
    wait_for(lambda: datetime.now(UTC) > moved_to + timedelta(seconds=INTERVAL * 2), timeout=30)

    mails = [mail for address in people for mail in smtp.catcher.mails_to(address)]
    subjects = sorted(str(mail.message["Subject"]) for mail in mails)
    assert subjects == sorted(expected)
    lateness = [
        (mail.received_at - expected[str(mail.message["Subject"])]).total_seconds()
        for mail in mails
    ]
    assert min(lateness) >= 0, "a reminder went out before its instant"
    assert max(lateness) < 15, f"lateness {sorted(lateness)}"
    [quiet_mail] = smtp.catcher.mails_to(quiet)
    assert quiet_mail.message["Subject"] == "Reminder: moved"
    assert quiet_mail.received_at >= moved_to


def test_a_worker_killed_mid_send_of_a_reminder_sends_it_still_once_ever(
    workers: Workers, beats: Beats, smtp: SmtpServer, database: Database
) -> None:
    first = workers.start()
    address = unique("interrupted")
    user_id = someone(address)
    smtp.catcher.script.hold.add(address)
    publish_event(task_event(uuid.uuid4(), user_id, title="Held", reminder_at=datetime.now(UTC)))
    beats.start()
    wait_for(
        smtp.catcher.data_held.is_set,
        timeout=40,
        what=f"the server to receive the reminder; worker log:\n{first.tail()}",
    )

    first.kill()
    interrupted = delivery_to(database, address)
    smtp.release()
    second = workers.start()
    delivered = wait_for_status(database, second, address, DeliveryStatus.SENT)
    # Several more ticks: none fires the reminder again.
    wait_for(
        lambda: (
            datetime.now(UTC)
            > (delivered.sent_at or datetime.now(UTC)) + timedelta(seconds=3 * INTERVAL)
        ),
        timeout=30,
    )

    assert interrupted.status is DeliveryStatus.SENDING
    copies = smtp.catcher.mails_to(address)
    # The documented duplicate window (killed between the server's 250 and "sent"), never more.
    assert 1 <= len(copies) <= 2
    assert len({mail.message["Message-ID"] for mail in copies}) == 1
    assert delivery_to(database, address).attempts == 2


def test_a_reminder_fires_on_time_while_mail_waits_for_the_senders(
    workers: Workers, beats: Beats, smtp: SmtpServer, database: Database
) -> None:
    """The ticks have a queue of their own: the tick that fires a reminder does not wait
    behind the mails already queued for the senders (here a slow server and one pool
    process: a backlog of about 15 seconds)."""
    worker = workers.start()
    address = unique("punctual")
    user_id = someone(address)
    reminder_at = datetime.now(UTC) + timedelta(seconds=10)
    publish_event(task_event(uuid.uuid4(), user_id, title="Punctual", reminder_at=reminder_at))
    wait_for(
        lambda: reminders_of(database, user_id) == 1,
        timeout=20,
        what=f"the reminder in the projection; worker log:\n{worker.tail()}",
    )
    smtp.catcher.script.slow = 0.25
    backlog = [unique(f"backlog{number}") for number in range(60)]
    for other in backlog:
        publish_event(welcome_requested(other))
    beats.start()

    fired = wait_for_status(database, worker, address, DeliveryStatus.SENT, timeout=90)

    lateness = (fired.created_at - reminder_at).total_seconds()
    welcomed = [smtp.catcher.mails_to(other) for other in backlog]
    assert all(welcomed)  # the backlog went out too, before the reminder's mail
    last_welcome = max(mails[0].received_at for mails in welcomed)
    assert fired.created_at < last_welcome, "the reminder fired only after the backlog"
    assert 0 <= lateness < 3, f"fired {lateness:.1f} s after its instant"


def reminders_of(database: Database, user_id: uuid.UUID) -> int:
    with database.transaction() as session:
        count = session.execute(
            text("SELECT count(*) FROM reminders WHERE user_id = :user"), {"user": user_id}
        ).scalar_one()
    return int(count)
