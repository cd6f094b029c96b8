"""Digest ticks at injected instants: local days across DST changes, far offsets, the
edges of a day, catching up after downtime, concurrent ticks, and who gets nothing."""

import threading
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.digest.conftest import Digests, add_task
from tracker_notifier.digest.service import TickReport
from tracker_notifier.digest.summaries import SummariesUnavailable


def local(timezone: str, text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(timezone))


@pytest.mark.parametrize(
    ("timezone", "day", "next_day"),
    [
        ("Europe/Berlin", "2026-03-29", "2026-03-30"),  # 23 hours
        ("Europe/Berlin", "2026-10-25", "2026-10-26"),  # 25 hours
        ("America/New_York", "2026-03-08", "2026-03-09"),  # 23 hours
        ("America/New_York", "2026-11-01", "2026-11-02"),  # 25 hours
    ],
)
def test_a_dst_day_counts_exactly_its_own_completions(
    digests: Digests, timezone: str, day: str, next_day: str
) -> None:
    user = digests.add_user(timezone)
    previous_evening = local(timezone, f"{day}T00:00:00") - timedelta(seconds=1)
    add_task(user, "late the day before", completed_at=previous_evening)
    add_task(user, "first second", completed_at=local(timezone, f"{day}T00:00:00"))
    add_task(user, "last second", completed_at=local(timezone, f"{day}T23:59:59"))
    add_task(user, "next midnight", completed_at=local(timezone, f"{next_day}T00:00:00"))
    add_task(user, "still open")

    digests.tick(local(timezone, f"{next_day}T00:01:00"))

    [delivery] = digests.deliveries(user)
    payload = delivery["payload"]
    assert payload["day"] == day
    assert payload["completed_count"] == 2
    assert payload["completed_titles"] == ["first second", "last second"]
    assert payload["open_count"] == 1
    assert payload["open_titles"] == ["still open"]
    assert delivery["idempotency_key"] == f"digest:{user}:{day}"


@pytest.mark.parametrize(
    ("timezone", "day"),
    [
        ("Europe/Berlin", "2026-03-29"),  # 23 hours
        ("Europe/Berlin", "2026-10-25"),  # 25 hours
        ("America/New_York", "2026-03-08"),  # 23 hours
        ("America/New_York", "2026-11-01"),  # 25 hours
        ("Pacific/Kiritimati", "2026-11-23"),  # UTC+14: the window starts on the 22nd in UTC
        ("Etc/GMT+12", "2026-11-23"),  # UTC-12: the tick runs on the 24th in UTC
    ],
)
def test_overdue_and_due_today_follow_the_local_day(
    digests: Digests, timezone: str, day: str
) -> None:
    user = digests.add_user(timezone)
    covered = date.fromisoformat(day)
    add_task(user, "a week late", due_date=covered - timedelta(days=7))
    add_task(user, "due the day covered, 23:30", due_date=covered, due_time=time(23, 30))
    add_task(user, "due the day that starts", due_date=covered + timedelta(days=1))
    add_task(
        user, "at 08:00 the day that starts", due_date=covered + timedelta(days=1), due_time=time(8)
    )
    add_task(user, "due the day after", due_date=covered + timedelta(days=2))
    add_task(
        user,
        "done, was due",
        due_date=covered,
        completed_at=local(timezone, f"{day}T00:00:00") - timedelta(days=1),
    )

    digests.tick(local(timezone, f"{covered + timedelta(days=1)}T00:01:00"))

    [delivery] = digests.deliveries(user)
    payload = delivery["payload"]
    assert payload["day"] == day
    assert payload["overdue_count"] == 2
    assert payload["overdue_titles"] == ["a week late", "due the day covered, 23:30"]
    assert payload["due_today_count"] == 2
    assert payload["due_today_titles"] == [
        "at 08:00 the day that starts",
        "due the day that starts",
    ]
    assert payload["open_count"] == 5


def test_someone_with_only_overdue_tasks_gets_a_digest_that_says_so(digests: Digests) -> None:
    user = digests.add_user("UTC")
    add_task(user, "late", due_date=date(2026, 11, 20))

    report = digests.tick(datetime(2026, 11, 24, 0, 1, tzinfo=UTC))

    [delivery] = digests.deliveries(user)
    assert report.mails == 1
    assert (delivery["payload"]["overdue_count"], delivery["payload"]["completed_count"]) == (1, 0)


def test_far_east_and_far_west_each_get_theirs_at_their_own_midnight(digests: Digests) -> None:
    east = digests.add_user("Pacific/Kiritimati")  # UTC+14
    west = digests.add_user("Pacific/Pago_Pago")  # UTC-11
    for user in (east, west):
        add_task(user, "open")

    east_midnight = local("Pacific/Kiritimati", "2026-11-24T00:00:00")
    digests.tick(east_midnight + timedelta(minutes=1))
    assert digests.claimed_days(east) == ["2026-11-23"]
    assert digests.claimed_days(west) == []

    west_midnight = local("Pacific/Pago_Pago", "2026-11-24T00:00:00")
    assert west_midnight - east_midnight == timedelta(hours=25)
    digests.tick(west_midnight + timedelta(minutes=1))
    assert digests.claimed_days(west) == ["2026-11-23"]
    # By then, an hour after its next midnight, the east is due its following day.
    assert digests.claimed_days(east) == ["2026-11-23", "2026-11-24"]
    assert len(digests.deliveries(west)) == 1


def test_the_same_tick_again_sends_nothing_more(digests: Digests) -> None:
    user = digests.add_user("UTC")
    add_task(user, "open")
    at = datetime(2026, 11, 24, 0, 5, tzinfo=UTC)

    first = digests.tick(at)
    second = digests.tick(at)
    later = digests.tick(at + timedelta(minutes=5))

    assert (first.users, first.mails) == (1, 1)
    assert (second.users, second.mails) == (0, 0)
    assert (later.users, later.mails) == (0, 0)
    assert len(digests.deliveries(user)) == 1
    assert len(digests.enqueued) == 1


def test_a_tick_after_three_hours_of_downtime_catches_up(digests: Digests) -> None:
    utc = digests.add_user("UTC")
    tokyo = digests.add_user("Asia/Tokyo")  # midnight was at 15:00 UTC, 12 hours before
    for user in (utc, tokyo):
        add_task(user, "open")

    report = digests.tick(datetime(2026, 11, 24, 3, 0, tzinfo=UTC))

    assert digests.claimed_days(utc) == ["2026-11-23"]
    assert digests.claimed_days(tokyo) == []  # past the grace: a stale digest is not sent
    assert report.mails == 1


def test_nobody_gets_a_digest_with_nothing_in_it_or_after_unsubscribing(
    digests: Digests,
) -> None:
    idle = digests.add_user("UTC")
    unsubscribed = digests.add_user("UTC", digest_enabled=False)
    add_task(unsubscribed, "open")
    only_old = digests.add_user("UTC")
    add_task(only_old, "done long ago", completed_at=datetime(2026, 1, 1, tzinfo=UTC))

    report = digests.tick(datetime(2026, 11, 24, 0, 1, tzinfo=UTC))

    assert digests.deliveries(idle) == []
    assert digests.deliveries(unsubscribed) == []
    assert digests.deliveries(only_old) == []
    assert digests.claimed_days(idle) == ["2026-11-23"]  # looked at once, not every tick
    assert digests.claimed_days(unsubscribed) == []
    assert (report.users, report.mails, report.empty) == (2, 0, 2)


def test_two_concurrent_ticks_send_one_mail_per_user(digests: Digests) -> None:
    users = [digests.add_user("UTC") for _ in range(600)]
    for user in users[:10]:
        add_task(user, "open")
    at = datetime(2026, 11, 24, 0, 5, tzinfo=UTC)
    reports: list[TickReport] = []
    start = threading.Barrier(2)

    def tick() -> None:
        start.wait()
        reports.append(digests.tick(at, digest_batch_size=50))

    threads = [threading.Thread(target=tick) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(report.users for report in reports) == 600
    assert sum(report.mails for report in reports) == 10
    assert sorted(digests.enqueued) == sorted(set(digests.enqueued))
    assert len(digests.enqueued) == 10
    for user in users[:10]:
        assert len(digests.deliveries(user)) == 1


def test_when_the_tasks_service_is_away_nothing_is_claimed_and_a_later_tick_sends(
    digests: Digests,
) -> None:
    user = digests.add_user("UTC")
    add_task(user, "open")
    at = datetime(2026, 11, 24, 0, 5, tzinfo=UTC)

    with pytest.raises(SummariesUnavailable):
        digests.tick(at, tasks_url="http://127.0.0.1:9", http_timeout=1)
    assert digests.claimed_days(user) == []
    assert digests.deliveries(user) == []

    report = digests.tick(at + timedelta(minutes=5))
    assert report.mails == 1
    assert len(digests.deliveries(user)) == 1
