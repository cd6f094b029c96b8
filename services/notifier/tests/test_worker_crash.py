"""A worker killed, or cut off from its database, in the middle of sending a mail."""

from tracker_contracts.messaging import NOTIFIER_TASKS
from tracker_notifier.db import Database
from tracker_notifier.deliveries.models import DeliveryStatus

from .conftest import Workers
from .deliveries.test_service import new_delivery
from .support import (
    SmtpServer,
    delivery_to,
    publish_event,
    send_batch_task,
    take_messages,
    terminate_lock_holder,
    unique,
    wait_for,
    wait_for_status,
    welcome_requested,
)


def test_a_worker_killed_mid_send_still_delivers_the_mail(
    workers: Workers, smtp: SmtpServer, database: Database
) -> None:
    first = workers.start()
    address = unique("interrupted")
    smtp.catcher.script.hold.add(address)
    publish_event(welcome_requested(address))
    wait_for(
        smtp.catcher.data_held.is_set,
        what=f"the server to receive the message data; worker log:\n{first.tail()}",
    )

    first.kill()  # while the worker waits for the server's reply to the message data
    interrupted = delivery_to(database, address)
    # Let the server answer 250 to a client that is gone: it has kept the message, the
    # worst case for the worker, which never learned of it.
    smtp.release()
    second = workers.start()
    delivered = wait_for_status(database, second, address, DeliveryStatus.SENT)

    assert interrupted.status is DeliveryStatus.SENDING
    assert interrupted.attempts == 1
    assert delivered.attempts == 2
    copies = smtp.catcher.mails_to(address)
    # The mail arrives; a second copy is the documented duplicate window (the kill landed
    # between the server's 250 and the commit of "sent"), and never more than that one.
    assert 1 <= len(copies) <= 2
    assert len({mail.message["Message-ID"] for mail in copies}) == 1
    assert "interrupted mid-send" in second.log_text()


def test_a_mail_accepted_while_the_database_dropped_is_recorded_sent_once(
    workers: Workers, smtp: SmtpServer, database: Database
) -> None:
    worker = workers.start()
    address = unique("unrecorded")
    smtp.catcher.script.hold.add(address)
    publish_event(welcome_requested(address))
    wait_for(
        smtp.catcher.data_held.is_set,
        what=f"the server to receive the message data; worker log:\n{worker.tail()}",
    )

    # The worker's database session goes away while the server holds the message data;
    # the server then accepts the mail, and marking it sent fails.
    sending = delivery_to(database, address)
    assert terminate_lock_holder(database, sending.id) == 1
    smtp.release()
    delivered = wait_for_status(database, worker, address, DeliveryStatus.SENT)

    assert sending.status is DeliveryStatus.SENDING
    assert delivered.attempts == 1
    assert delivered.sent_at is not None
    assert len(smtp.catcher.mails_to(address)) == 1
    log = worker.log_text()
    assert "mail accepted but not recorded" in log
    assert "recorded an accepted mail as sent" in log
    assert take_messages(NOTIFIER_TASKS.dead_letter_queue) == []


def test_a_worker_killed_mid_batch_sends_every_mail_and_none_more_than_twice(
    workers: Workers, smtp: SmtpServer, database: Database
) -> None:
    first = workers.start()
    addresses = [unique(f"batch{number}") for number in range(4)]
    delivery_ids = [new_delivery(database, address) for address in addresses]
    smtp.catcher.script.hold.add(addresses[1])
    send_batch_task(delivery_ids)
    wait_for(
        smtp.catcher.data_held.is_set,
        what=f"the server to receive the second mail's data; worker log:\n{first.tail()}",
    )

    first.kill()  # while the server holds the second mail of the batch
    smtp.release()  # and then accepts it, from a client that is gone
    second = workers.start()
    delivered = [
        wait_for_status(database, second, address, DeliveryStatus.SENT) for address in addresses
    ]

    # The batch was shared between the worker's connections: the kill may have caught a
    # mail on each one between the server's 250 and the "sent" mark (the documented
    # duplicate window, one mail per connection), so such a mail may arrive twice, with its
    # one Message-ID; every mail arrives, none more than twice.
    copies = [smtp.catcher.mails_to(address) for address in addresses]
    assert all(1 <= len(mails) <= 2 for mails in copies)
    assert all(len({mail.message["Message-ID"] for mail in mails}) == 1 for mails in copies)
    assert delivered[1].attempts == 2
    assert {row.attempts for row in delivered} <= {1, 2}
    assert take_messages(NOTIFIER_TASKS.dead_letter_queue) == []
