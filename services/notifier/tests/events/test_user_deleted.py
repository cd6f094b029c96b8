"""``user.deleted`` against the real database and SMTP server: the person is erased, late
events do not bring them back, and a mail being sent meanwhile neither crashes nor leaves
a trace."""

import threading
import time
import uuid
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import insert, select, text, update

from tests.support.events import TOKEN, envelope, reset_requested, verification_requested
from tracker_contracts import Envelope, EventData, UserDeleted, UserUpdated, UserVerified
from tracker_notifier.db import Base, Database
from tracker_notifier.deliveries.models import Delivery, DeliveryStatus
from tracker_notifier.deliveries.service import DeliverySender, Outcome
from tracker_notifier.digest.models import DigestClaim
from tracker_notifier.recipients.models import ErasedUser, Recipient

from ..conftest import make_settings
from ..digest.test_retention import tick
from ..support import SmtpServer, handle, wait_for
from .test_service import registered

ADA = "ada.lovelace@example.com"


def deleted(user_id: uuid.UUID, *, at: datetime | None = None) -> Envelope[EventData]:
    return envelope(UserDeleted(user_id=user_id), at)


def state(model: type[UserUpdated], user_id: uuid.UUID, *, at: datetime) -> Envelope[EventData]:
    data = model(user_id=user_id, email=ADA, timezone="UTC", digest_enabled=True)
    return envelope(data, at)


def everything_stored(database: Database) -> str:
    """Every row of every table of the notifier, as text."""
    with database.transaction() as session:
        return "\n".join(
            row
            for table in Base.metadata.sorted_tables
            for row in session.scalars(text(f"SELECT t::text FROM {table.name} AS t"))  # noqa: S608
        )


def registered_with_mails(database: Database, user_id: uuid.UUID) -> list[int]:
    """A confirmed user with a digest claim and mails in every state: sent, left sending
    by a dead worker, pending."""
    settings = make_settings()
    handle(database, registered(user_id, ADA), settings)
    sent = handle(database, verification_requested(user_id, ADA), settings)
    sending = handle(database, verification_requested(user_id, ADA, welcome=False), settings)
    pending = handle(database, reset_requested(user_id, ADA), settings)
    handle(database, state(UserVerified, user_id, at=datetime.now(UTC)), settings)
    with database.transaction() as session:
        session.execute(
            update(Delivery).where(Delivery.id.in_(sent)).values(status=DeliveryStatus.SENT)
        )
        session.execute(
            update(Delivery)
            .where(Delivery.id.in_(sending))
            .values(status=DeliveryStatus.SENDING, attempts=1)
        )
        session.execute(insert(DigestClaim).values(user_id=user_id, day=date(2026, 12, 2)))
    return sent + sending + pending


def test_a_deleted_person_leaves_only_their_id_behind(
    database: Database, sender: DeliverySender
) -> None:
    ada, grace = uuid.uuid4(), uuid.uuid4()
    mails = registered_with_mails(database, ada)
    handle(database, registered(grace, "grace@example.com"), make_settings())
    [graces_mail] = handle(
        database, verification_requested(grace, "grace@example.com"), make_settings()
    )

    assert handle(database, deleted(ada), make_settings()) == []

    stored = everything_stored(database)
    assert ADA not in stored
    assert TOKEN in stored  # Grace's welcome, not yet sent, is untouched
    assert "grace@example.com" in stored
    assert stored.count(str(ada)) == 1
    with database.transaction() as session:
        [erased] = session.scalars(select(ErasedUser)).all()
        assert session.get(Recipient, grace) is not None
    assert erased.user_id == ada
    # The send tasks still queued for the erased mails find nothing to send, and no error.
    assert [sender.send(mail).outcome for mail in mails] == [Outcome.MISSING] * 3
    assert sender.send(graces_mail).outcome is Outcome.SENT


def test_older_events_never_bring_a_deleted_person_back(database: Database) -> None:
    settings = make_settings()
    user_id = uuid.uuid4()
    now = datetime.now(UTC)
    handle(database, registered(user_id, ADA, at=now - timedelta(minutes=5)), settings)
    handle(database, deleted(user_id, at=now), settings)

    late = [
        state(UserUpdated, user_id, at=now - timedelta(minutes=1)),
        state(UserVerified, user_id, at=now - timedelta(seconds=1)),
        registered(user_id, ADA, at=now - timedelta(minutes=5)),
        verification_requested(user_id, ADA, at=now - timedelta(minutes=5)),
        reset_requested(user_id, ADA),
    ]
    assert [handle(database, event, settings) for event in late] == [[]] * len(late)

    assert ADA not in everything_stored(database)
    with database.transaction() as session:
        assert session.get(Recipient, user_id) is None


def test_a_deletion_waits_for_a_mail_being_sent_and_nothing_crashes(
    database: Database, smtp: SmtpServer, sender: DeliverySender
) -> None:
    settings = make_settings()
    user_id = uuid.uuid4()
    handle(database, registered(user_id, ADA), settings)
    [welcome] = handle(database, verification_requested(user_id, ADA), settings)
    smtp.catcher.script.hold.add(ADA)
    outcomes: list[Outcome] = []
    sending = threading.Thread(target=lambda: outcomes.append(sender.send(welcome).outcome))
    sending.start()
    wait_for(smtp.catcher.data_held.is_set, what="the mail to be in the server's hands")

    deleting = threading.Thread(target=lambda: handle(database, deleted(user_id), settings))
    deleting.start()
    time.sleep(0.5)
    waited = deleting.is_alive()
    smtp.release()
    sending.join(timeout=20)
    deleting.join(timeout=20)

    assert waited  # the deletion did not pull the row from under the send
    assert outcomes == [Outcome.SENT]
    assert not deleting.is_alive()
    assert len(smtp.catcher.mails_to(ADA)) == 1
    assert ADA not in everything_stored(database)


def test_the_id_of_a_deleted_person_is_forgotten_after_the_inbox_retention(
    database: Database,
) -> None:
    settings = make_settings()
    old, recent = uuid.uuid4(), uuid.uuid4()
    handle(database, deleted(old), settings)
    handle(database, deleted(recent), settings)
    with database.transaction() as session:
        session.execute(
            update(ErasedUser)
            .where(ErasedUser.user_id == old)
            .values(erased_at=datetime.now(UTC) - settings.inbox_retention - timedelta(hours=1))
        )

    tick(database, settings)

    with database.transaction() as session:
        assert session.scalars(select(ErasedUser.user_id)).all() == [recent]
