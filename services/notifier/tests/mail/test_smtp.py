"""The mailer against a real SMTP server over TCP."""

import pytest

from devsupport.network import free_port
from tracker_notifier.mail.smtp import Mailer, PermanentMailError, SmtpConfig, TransientMailError

from ..support import SmtpServer
from .test_messages import build


@pytest.fixture
def mailer(smtp: SmtpServer) -> Mailer:
    return Mailer(SmtpConfig(host="127.0.0.1", port=smtp.port, timeout=5))


def test_one_connection_carries_many_mails(smtp: SmtpServer, mailer: Mailer) -> None:
    before = smtp.connections_opened
    try:
        for number in range(5):
            mailer.send(build(f"user{number}@example.com"))
    finally:
        mailer.close()

    assert smtp.connections_opened == before + 1
    assert len(smtp.catcher.mails) == 5
    assert len({mail.peer for mail in smtp.catcher.mails}) == 1


def test_a_dropped_connection_is_opened_again(smtp: SmtpServer, mailer: Mailer) -> None:
    try:
        mailer.send(build("first@example.com"))
        smtp.drop_connections()
        mailer.send(build("second@example.com"))
    finally:
        mailer.close()

    assert mailer.connections_opened == 2
    assert [mail.recipients for mail in smtp.catcher.mails] == [
        ["first@example.com"],
        ["second@example.com"],
    ]


def test_4xx_is_transient_and_5xx_permanent(smtp: SmtpServer, mailer: Mailer) -> None:
    smtp.catcher.script.defer["later@example.com"] = 1
    smtp.catcher.script.refuse.add("gone@example.com")
    try:
        with pytest.raises(TransientMailError) as deferred:
            mailer.send(build("later@example.com"))
        with pytest.raises(PermanentMailError) as refused:
            mailer.send(build("gone@example.com"))
        mailer.send(build("later@example.com"))  # the same connection, still usable
    finally:
        mailer.close()

    assert deferred.value.code == 451
    assert refused.value.code == 550
    assert "gone@example.com" in str(refused.value)
    assert [mail.recipients for mail in smtp.catcher.mails] == [["later@example.com"]]
    assert mailer.connections_opened == 1


def test_an_unreachable_server_is_transient() -> None:
    mailer = Mailer(SmtpConfig(host="127.0.0.1", port=free_port(), timeout=2))
    with pytest.raises(TransientMailError, match="cannot connect"):
        mailer.send(build("ada@example.com"))
