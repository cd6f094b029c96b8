"""What the chaos checks count as a lost or a doubled mail, and as a missed live change."""

import random

from chaos.checks import Tally
from chaos.mail import CaughtMail, ChaosMailCatcher
from chaos.people import LiveWatch, Person, Traffic
from chaos.profile import SHORT


def mail(to: str, message_id: str) -> CaughtMail:
    return CaughtMail(to, "welcome", message_id, 0.0, 0, "")


def test_a_tally_tells_missing_doubled_resent_and_unwanted_mails_apart() -> None:
    tally = Tally()
    tally.add(
        {"a", "b", "c", "d"},
        {
            "a": [mail("a", "<1>")],
            "b": [mail("b", "<2>"), mail("b", "<3>")],
            "c": [mail("c", "<4>"), mail("c", "<4>")],
            "x": [mail("x", "<5>")],
        },
    )

    assert (tally.due, tally.missing, tally.duplicates, tally.same_message_id) == (4, 1, 2, 1)
    assert tally.unexpected == 1
    assert not tally.ok


def watch() -> LiveWatch:
    rng = random.Random(0)  # noqa: S311
    return LiveWatch(
        Person(0, "p@example.com", "UTC", SHORT, "", ChaosMailCatcher(), Traffic(), rng)
    )


def test_a_stream_that_skips_a_position_has_a_gap() -> None:
    stream = watch()
    for event, position in [("ready", 3), ("task.created", 4), ("task.updated", 6)]:
        stream.received(event, position)

    assert stream.gaps == [(5, 6)]
    assert stream.last_id == 6


def test_a_resync_or_a_reconnection_where_it_left_off_is_no_gap() -> None:
    stream = watch()
    for event, position in [
        ("ready", 0),
        ("task.created", 1),
        ("ready", 1),  # reopened with Last-Event-ID: 1
        ("task.updated", 2),
        ("task.updated", 2),  # the same change again: counted, harmless
        ("resync", 9),
        ("task.deleted", 10),
    ]:
        stream.received(event, position)

    assert stream.gaps == []
    assert (stream.events, stream.repeats, stream.resyncs, stream.last_id) == (4, 1, 1, 10)


def test_a_stream_reopened_further_on_than_it_left_off_has_a_gap() -> None:
    stream = watch()
    for event, position in [("ready", 0), ("task.created", 1), ("ready", 4)]:
        stream.received(event, position)

    assert stream.gaps == [(2, 4)]
