"""Addresses beyond ASCII (an internationalised domain, a non-ASCII local part, one with
no ASCII form at all) and unexpected errors, in a batch between ordinary addresses,
against a server that offers SMTPUTF8 and one that does not."""

import logging
from collections.abc import Iterator
from email.message import Message

import pytest
from sqlalchemy import update

from tracker_notifier.db import Database
from tracker_notifier.deliveries.models import Delivery, DeliveryStatus
from tracker_notifier.deliveries.service import DeliverySender, Outcome
from tracker_notifier.mail.smtp import Mailer, SmtpConfig

from ..conftest import make_settings
from ..support import SmtpServer
from .test_service import load, new_delivery


@pytest.fixture(scope="module")
def smtputf8_server() -> Iterator[SmtpServer]:
    server = SmtpServer(smtputf8=True)
    server.start()
    yield server
    server.release()
    server.stop()


@pytest.fixture(params=["plain", "smtputf8"])
def server(
    request: pytest.FixtureRequest, smtp_server: SmtpServer, smtputf8_server: SmtpServer
) -> Iterator[SmtpServer]:
    """Each test runs against a server without SMTPUTF8 and one with it."""
    chosen = smtputf8_server if request.param == "smtputf8" else smtp_server
    chosen.catcher.reset()
    yield chosen
    chosen.release()


def new_mailer(server: SmtpServer, mailer: type[Mailer] = Mailer) -> Mailer:
    settings = make_settings(smtp_port=server.port, max_send_attempts=3)
    return mailer(SmtpConfig.from_settings(settings))


@pytest.fixture
def mailer(server: SmtpServer) -> Iterator[Mailer]:
    mailer = new_mailer(server)
    yield mailer
    mailer.close()


@pytest.fixture
def sender(database: Database, server: SmtpServer, mailer: Mailer) -> DeliverySender:
    return DeliverySender(database, mailer, make_settings(smtp_port=server.port))


def between_two(database: Database, address: str) -> list[int]:
    """Deliveries to an ordinary address, ``address`` and another ordinary one, in the
    order a batch sends them."""
    first, middle = new_delivery(database, "first@example.com"), new_delivery(database)
    with database.transaction() as session:
        # Stored as is: registration validated it once, and the row may predate any rule.
        session.execute(update(Delivery).where(Delivery.id == middle).values(to_address=address))
    return [first, middle, new_delivery(database)]


def recipients(server: SmtpServer) -> list[list[str]]:
    return [mail.recipients for mail in server.catcher.mails]


def test_an_internationalised_domain_is_sent_to_its_ascii_form(
    database: Database, server: SmtpServer, sender: DeliverySender
) -> None:
    ids = between_two(database, "bob@bücher.example")

    batch = sender.send_batch(ids)

    assert [batch.results[delivery_id].outcome for delivery_id in ids] == [Outcome.SENT] * 3
    assert recipients(server) == [
        ["first@example.com"],
        ["bob@xn--bcher-kva.example"],
        ["ada@example.com"],
    ]
    assert server.catcher.mails[1].message["To"] == "bob@xn--bcher-kva.example"
    assert {load(database, delivery_id).status for delivery_id in ids} == {DeliveryStatus.SENT}


def test_a_single_mail_to_an_internationalised_domain_is_sent(
    database: Database, server: SmtpServer, sender: DeliverySender
) -> None:
    delivery_id = new_delivery(database, "bob@bücher.example")

    assert sender.send(delivery_id).outcome is Outcome.SENT

    assert recipients(server) == [["bob@xn--bcher-kva.example"]]


def test_a_non_ascii_local_part_goes_out_with_smtputf8_or_fails_alone(
    database: Database, server: SmtpServer, sender: DeliverySender
) -> None:
    ids = between_two(database, "dörte@bücher.example")

    batch = sender.send_batch(ids)

    outcomes = [batch.results[delivery_id].outcome for delivery_id in ids]
    middle = load(database, ids[1])
    if server.smtputf8:
        assert outcomes == [Outcome.SENT] * 3
        assert recipients(server)[1] == ["dörte@xn--bcher-kva.example"]
        assert server.catcher.mails[1].message["To"] == "dörte@xn--bcher-kva.example"
        assert middle.status is DeliveryStatus.SENT
    else:
        assert outcomes == [Outcome.SENT, Outcome.FAILED, Outcome.SENT]
        assert recipients(server) == [["first@example.com"], ["ada@example.com"]]
        assert middle.status is DeliveryStatus.FAILED
        assert middle.last_error is not None
        assert "SMTPUTF8" in middle.last_error
    assert load(database, ids[2]).status is DeliveryStatus.SENT


@pytest.mark.parametrize(
    "address",
    [
        "ada@" + "ü" * 70 + ".example",  # a label longer than DNS allows
        "ada@straße.example",  # IDNA 2003 would turn it into another domain, strasse
        "not-an-address",
    ],
)
def test_an_address_with_no_ascii_form_fails_alone(
    database: Database, server: SmtpServer, sender: DeliverySender, address: str
) -> None:
    ids = between_two(database, address)

    batch = sender.send_batch(ids)

    outcomes = [batch.results[delivery_id].outcome for delivery_id in ids]
    assert outcomes == [Outcome.SENT, Outcome.FAILED, Outcome.SENT]
    failed = load(database, ids[1])
    assert (failed.status, failed.attempts) == (DeliveryStatus.FAILED, 1)
    assert failed.last_error is not None
    assert "cannot build the mail" in failed.last_error
    assert recipients(server) == [["first@example.com"], ["ada@example.com"]]


class ExplodingMailer(Mailer):
    """A mailer with a bug that shows for one recipient only."""

    def send(self, message: Message) -> None:
        if message["To"] == "boom@example.com":
            raise RuntimeError("a bug in the mailer")
        super().send(message)


def test_an_unexpected_error_fails_that_delivery_alone_and_visibly(
    database: Database, server: SmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    mailer = new_mailer(server, ExplodingMailer)
    sender = DeliverySender(database, mailer, make_settings(smtp_port=server.port))
    ids = between_two(database, "boom@example.com")
    single = new_delivery(database, "boom@example.com")

    try:
        with caplog.at_level(logging.ERROR, logger="tracker.notifier.deliveries"):
            batch = sender.send_batch(ids)
            alone = sender.send(single)
    finally:
        mailer.close()

    outcomes = [batch.results[delivery_id].outcome for delivery_id in ids]
    assert outcomes == [Outcome.SENT, Outcome.FAILED, Outcome.SENT]
    assert alone.outcome is Outcome.FAILED
    for delivery_id in (ids[1], single):
        failed = load(database, delivery_id)
        assert failed.status is DeliveryStatus.FAILED
        assert failed.last_error is not None
        assert "RuntimeError: a bug in the mailer" in failed.last_error
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert len(errors) == 2
    assert all(record.__dict__.get("delivery_id") in (ids[1], single) for record in errors)
    assert recipients(server) == [["first@example.com"], ["ada@example.com"]]
