"""Which day a tick sends digests for, in each timezone, with DST and far offsets."""

from datetime import UTC, date, datetime, timedelta

import pytest

from tracker_notifier.digest.windows import DigestDay, due_day, due_days

GRACE = timedelta(hours=6)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("timezone", "day", "at", "start", "hours"),
    [
        # Europe/Berlin: clocks go forward on 2026-03-29 (23 h), back on 2026-10-25 (25 h).
        ("Europe/Berlin", "2026-03-29", "2026-03-29T22:01:00", "2026-03-28T23:00:00", 23),
        ("Europe/Berlin", "2026-10-25", "2026-10-25T23:01:00", "2026-10-24T22:00:00", 25),
        # America/New_York: forward on 2026-03-08, back on 2026-11-01.
        ("America/New_York", "2026-03-08", "2026-03-09T04:01:00", "2026-03-08T05:00:00", 23),
        ("America/New_York", "2026-11-01", "2026-11-02T05:01:00", "2026-11-01T04:00:00", 25),
        # An ordinary day either side.
        ("Europe/Berlin", "2026-03-28", "2026-03-28T23:01:00", "2026-03-27T23:00:00", 24),
        # UTC+14 and UTC-11: their midnights are 25 hours apart.
        ("Pacific/Kiritimati", "2026-11-23", "2026-11-23T10:01:00", "2026-11-22T10:00:00", 24),
        ("Pacific/Niue", "2026-11-23", "2026-11-24T11:01:00", "2026-11-23T11:00:00", 24),
        # Santiago skips midnight itself (00:00 -> 01:00 on 2026-09-06): the day starts then.
        ("America/Santiago", "2026-09-06", "2026-09-07T03:01:00", "2026-09-06T04:00:00", 23),
    ],
)
def test_the_day_that_ended_at_the_last_local_midnight(
    timezone: str, day: str, at: str, start: str, hours: int
) -> None:
    due = due_day(utc(at), timezone, GRACE)

    assert due == DigestDay(
        day=date.fromisoformat(day), start=utc(start), end=utc(start) + timedelta(hours=hours)
    )


def test_nothing_is_due_before_midnight_or_after_the_grace() -> None:
    midnight = utc("2026-11-24T00:00:00")

    assert due_day(midnight - timedelta(seconds=1), "UTC", GRACE) is None
    assert due_day(midnight, "UTC", GRACE) is not None
    assert due_day(midnight + timedelta(hours=3), "UTC", GRACE) is not None  # caught up
    assert due_day(midnight + GRACE - timedelta(seconds=1), "UTC", GRACE) is not None
    assert due_day(midnight + GRACE, "UTC", GRACE) is None


def test_a_repeated_hour_after_the_day_ended_is_still_that_night() -> None:
    # Berlin 2026-10-25: 02:00-03:00 local happens twice; both are the night after the 24th.
    first = due_day(utc("2026-10-25T00:30:00"), "Europe/Berlin", GRACE)
    second = due_day(utc("2026-10-25T01:30:00"), "Europe/Berlin", GRACE)

    assert first is not None
    assert first == second
    assert first.day == date(2026, 10, 24)


def test_zones_are_grouped_by_their_window() -> None:
    at = utc("2026-11-23T23:30:00")  # 00:30 in Berlin and Paris, 23:30 in London

    groups = due_days(at, ["Europe/Berlin", "Europe/Paris", "Europe/London", "Asia/Tokyo"], GRACE)

    assert list(groups.values()) == [["Europe/Berlin", "Europe/Paris"]]
    [day] = groups
    assert day.day == date(2026, 11, 23)


def test_an_instant_without_an_offset_is_refused() -> None:
    with pytest.raises(ValueError, match="offset"):
        due_days(datetime(2026, 11, 24), ["UTC"], GRACE)
