"""Sending one delivery: at most once per idempotency key, except for one window.

The steps, each its own transaction, all under the delivery's advisory lock (so two tasks
for the same delivery never send it side by side):

1. load the delivery; stop if it is ``sent`` or ``failed``;
2. mark it ``sending`` and count the attempt (committed *before* talking to the server);
3. hand the message to the SMTP server;
4. mark it ``sent`` once the server answered 250 to the message data.

**The duplicate window.** A worker killed between the server's 250 (step 3) and the commit
of step 4 leaves the delivery ``sending``. Its task message was never acknowledged (late
acks), so RabbitMQ hands it to another worker, which finds ``sending``, cannot know whether
the server kept the message, and sends it again: one duplicate at most, with the same
Message-ID as the first copy. Closing the window would need the SMTP server to take part in
a two-phase commit, which SMTP has no way to do; the alternative, never resending a
``sending`` delivery, would lose every mail whose worker died *before* the server took it.
A kill anywhere else is harmless: before step 2 nothing happened, between 2 and 3 the
server never saw the message, and after 4 the delivery is ``sent`` and skipped. A batch
sent side by side over several connections (``NOTIFIER_SMTP_CONNECTIONS``, see
``tasks.send_now``) can have one mail per connection in that window when its worker is
killed: one duplicate at most of each.
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.message import Message
from enum import StrEnum

from sqlalchemy.orm import Session

from tracker_notifier.config import Settings
from tracker_notifier.db import Database
from tracker_notifier.deliveries import repository
from tracker_notifier.deliveries.models import Delivery, DeliveryStatus
from tracker_notifier.mail import kinds, messages
from tracker_notifier.mail.messages import MailContent
from tracker_notifier.mail.smtp import Mailer, PermanentMailError, TransientMailError
from tracker_notifier.metrics import metrics
from tracker_runtime import unsubscribe
from tracker_runtime.backoff import backoff_delay

logger = logging.getLogger("tracker.notifier.deliveries")


class Outcome(StrEnum):
    SENT = "sent"
    FINISHED_BEFORE = "finished-before"
    """Sent or failed by an earlier task: nothing to do."""
    BUSY = "busy"
    """Another task holds the delivery's lock and is sending it right now."""
    MISSING = "missing"
    RETRY = "retry"
    FAILED = "failed"
    EXPIRED = "expired"
    """The mail's link expired before it could be sent: failed without being sent."""


@dataclass(frozen=True, slots=True)
class SendResult:
    outcome: Outcome
    retry_in: float | None = None
    error: str | None = None


class AcceptedButNotRecorded(Exception):
    """The server accepted the mail but marking it sent failed (the database is away).
    The caller retries the *recording* only, with :attr:`sent_at`, and never resends."""

    def __init__(self, delivery_id: int, sent_at: datetime) -> None:
        super().__init__(f"delivery {delivery_id} was sent at {sent_at} but not recorded")
        self.delivery_id = delivery_id
        self.sent_at = sent_at


def retry_delay(attempt: int, *, base: float, cap: float) -> float:
    """Backoff before resending a mail; never below one second, because RabbitMQ's delayed
    delivery, which carries Celery's retries, counts whole seconds."""
    return backoff_delay(attempt, base=base, cap=cap, floor=1.0)


class LinkExpired(Exception):
    """The mail's link stopped working before the mail could be sent: sending it would
    only hand the person a dead link."""


def render(delivery: Delivery, settings: Settings) -> MailContent:
    """The delivery's mail: its stored payload read back into its kind's model
    (:class:`~tracker_notifier.mail.kinds.InvalidPayload` when that fails), rendered, with
    the subject stored at creation; :class:`LinkExpired` for a link that expired."""
    payload = kinds.stored(delivery.kind, delivery.payload)
    expiry = payload.link_expiry()
    if expiry is not None and expiry <= datetime.now(UTC):
        raise LinkExpired(f"the link expired at {expiry.isoformat()}, before it could be sent")
    context = kinds.RenderContext(
        to_address=delivery.to_address,
        public_url=settings.public_url,
        unsubscribe_url=unsubscribe.link(
            settings.public_url,
            delivery.user_id,
            settings.unsubscribe_secret.get_secret_value(),
            payload.UNSUBSCRIBE,
        ),
    )
    return replace(payload.render(context), subject=delivery.subject)


@dataclass
class BatchResult:
    """What :meth:`DeliverySender.send_batch` did with each delivery of the batch."""

    results: dict[int, SendResult] = field(default_factory=dict)
    untried: list[int] = field(default_factory=list)
    """Deliveries left for later because the server failed two in a row."""


class DeliverySender:
    def __init__(self, database: Database, mailer: Mailer, settings: Settings) -> None:
        self._database = database
        self._mailer = mailer
        self._settings = settings

    @contextmanager
    def _locked(self, delivery_ids: list[int]) -> Iterator[tuple[Session, list[int]]]:
        """A session on a connection holding the locks of those of ``delivery_ids`` no
        other task holds (the second value), released when the block ends.

        The connection runs in autocommit: every write of a send is one statement, atomic
        by itself and made under the delivery's lock, so it needs no transaction around it,
        and costs one round trip to the database instead of three (BEGIN, it, COMMIT)."""
        with self._database.engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT")
            locked = repository.try_lock(connection, delivery_ids)
            try:
                with Session(bind=connection, expire_on_commit=False) as session:
                    yield session, locked
            finally:
                try:
                    repository.unlock(connection, locked)
                except Exception:  # never mask the outcome; the locks die with the connection
                    logger.warning("could not release the delivery locks", exc_info=True)
                    connection.invalidate()

    def send(self, delivery_id: int, *, accepted_at: datetime | None = None) -> SendResult:
        """Send the delivery unless it is finished; ``accepted_at`` records an earlier
        accepted send (see :class:`AcceptedButNotRecorded`) without sending again."""
        with self._locked([delivery_id]) as (session, locked):
            if not locked:
                logger.info("delivery is being sent by another task", extra=_ids(delivery_id))
                return SendResult(Outcome.BUSY)
            return self._send_locked(session, delivery_id, accepted_at)

    def send_batch(self, delivery_ids: list[int]) -> BatchResult:
        """Send many deliveries over the one SMTP connection, with a few round trips to the
        database for the whole batch instead of several per mail: the locks are taken and
        the attempts counted for all at once, then each mail is marked sent as soon as the
        server accepted it (so the duplicate window stays one mail wide).

        Two transient failures in a row mean the server, not a recipient, is in trouble:
        the rest of the batch is given back untried (:attr:`BatchResult.untried`).
        A database failure while recording a send raises :class:`AcceptedButNotRecorded`
        like :meth:`send`; the deliveries after it stay claimed and are sent again later.
        """
        batch = BatchResult()
        with self._locked(delivery_ids) as (session, locked):
            for delivery_id in set(delivery_ids) - set(locked):
                batch.results[delivery_id] = SendResult(Outcome.BUSY)
            self._send_batch_locked(session, locked, batch)
        return batch

    def _send_batch_locked(self, session: Session, locked: list[int], batch: BatchResult) -> None:
        with session.begin():
            claimed = repository.claim_many(session, locked)
        finished = set(locked) - {claim.delivery.id for claim in claimed}
        for delivery_id in finished:
            batch.results[delivery_id] = SendResult(Outcome.FINISHED_BEFORE)
        transient_in_a_row = 0
        for index, claim in enumerate(claimed):
            delivery = claim.delivery
            if claim.status_before is DeliveryStatus.SENDING:
                _warn_interrupted(delivery.id, claim.attempt - 1)
            with session.begin():
                message = self._message(session, delivery)
            if isinstance(message, SendResult):
                batch.results[delivery.id] = message
                continue
            result = self._deliver(session, delivery.id, delivery.kind, message, claim.attempt)
            batch.results[delivery.id] = result
            transient_in_a_row = transient_in_a_row + 1 if result.outcome is Outcome.RETRY else 0
            rest = (
                [later.delivery.id for later in claimed[index + 1 :]]
                if transient_in_a_row >= 2
                else []
            )
            if rest:
                with session.begin():
                    repository.unclaim(session, rest)
                batch.untried = rest
                return

    def _send_locked(
        self, session: Session, delivery_id: int, accepted_at: datetime | None
    ) -> SendResult:
        with session.begin():
            claimed = self._claim(session, delivery_id, accepted_at)
        if isinstance(claimed, SendResult):
            return claimed
        return self._deliver(session, delivery_id, *claimed)

    def _claim(
        self, session: Session, delivery_id: int, accepted_at: datetime | None
    ) -> SendResult | tuple[str, Message, int]:
        """Steps 1 and 2: the message to send and the attempt's number, or the result
        when there is nothing to send."""
        delivery = session.get(Delivery, delivery_id)
        if delivery is None:
            logger.warning("no such delivery", extra=_ids(delivery_id))
            return SendResult(Outcome.MISSING)
        if accepted_at is not None:
            repository.mark_sent(session, delivery_id, sent_at=accepted_at)
            logger.info("recorded an accepted mail as sent", extra=_ids(delivery_id))
            metrics().mails_sent.labels(delivery.kind).inc()
            return SendResult(Outcome.SENT)
        if delivery.status in (DeliveryStatus.SENT, DeliveryStatus.FAILED):
            logger.info(
                "delivery finished before", extra={**_ids(delivery_id), "status": delivery.status}
            )
            return SendResult(Outcome.FINISHED_BEFORE)
        if delivery.status is DeliveryStatus.SENDING:
            _warn_interrupted(delivery_id, delivery.attempts)
        message = self._message(session, delivery)
        if isinstance(message, SendResult):
            return message
        return delivery.kind, message, repository.mark_sending(session, delivery_id)

    def _message(self, session: Session, delivery: Delivery) -> Message | SendResult:
        """The delivery's message; a delivery that cannot be built is failed for good."""
        try:
            return messages.compose(
                render(delivery, self._settings),
                sender=self._settings.mail_from_address,
                to=delivery.to_address,
                message_id=delivery.message_id,
            )
        except LinkExpired as error:
            repository.mark_failed(session, delivery.id, error=f"expired: {error}")
            logger.warning("mail not sent: %s", error, extra=_ids(delivery.id))
            metrics().mails_failed.labels(delivery.kind).inc()
            return SendResult(Outcome.EXPIRED, error=str(error))
        except Exception as error:
            # Whatever the cause (a bad address, a payload that lost a field, a bug), this
            # one delivery fails, visibly, and the others go on.
            repository.mark_failed(
                session, delivery.id, error=f"cannot build the mail: {_describe(error)}"
            )
            logger.error(
                "cannot build the mail: %s",
                _describe(error),
                exc_info=not isinstance(error, ValueError),
                extra=_ids(delivery.id),
            )
            metrics().mails_failed.labels(delivery.kind).inc()
            return SendResult(Outcome.FAILED, error=str(error))

    def _deliver(
        self, session: Session, delivery_id: int, kind: str, message: Message, attempt: int
    ) -> SendResult:
        """Steps 3 and 4."""
        try:
            self._mailer.send(message)
        except PermanentMailError as error:
            return self._give_up(session, delivery_id, kind, attempt, error)
        except TransientMailError as error:
            if attempt >= self._settings.max_send_attempts:
                return self._give_up(session, delivery_id, kind, attempt, error)
            delay = retry_delay(
                attempt, base=self._settings.retry_base_delay, cap=self._settings.retry_max_delay
            )
            with session.begin():
                repository.mark_deferred(session, delivery_id, error=str(error))
            logger.warning(
                "mail deferred, retrying in %.0fs: %s",
                delay,
                error,
                extra={**_ids(delivery_id), "attempt": attempt},
            )
            metrics().mails_retried.labels(kind).inc()
            return SendResult(Outcome.RETRY, retry_in=delay, error=str(error))
        except Exception as error:
            # A fault of ours, not the server's: resending cannot be trusted to help, and
            # holding the delivery (or the rest of its batch) would stall every later mail.
            return self._give_up(session, delivery_id, kind, attempt, error, unexpected=True)

        sent_at = datetime.now(UTC)
        try:
            with session.begin():
                repository.mark_sent(session, delivery_id, sent_at=sent_at)
        except Exception as error:
            raise AcceptedButNotRecorded(delivery_id, sent_at) from error
        logger.info(
            "mail sent",
            extra={**_ids(delivery_id), "attempt": attempt, "message_id": message["Message-ID"]},
        )
        metrics().mails_sent.labels(kind).inc()
        return SendResult(Outcome.SENT)

    def _give_up(
        self,
        session: Session,
        delivery_id: int,
        kind: str,
        attempt: int,
        error: Exception,
        *,
        unexpected: bool = False,
    ) -> SendResult:
        reason = _describe(error) if unexpected else str(error)
        with session.begin():
            repository.mark_failed(session, delivery_id, error=reason)
        logger.error(
            "mail failed for good: %s",
            reason,
            exc_info=error if unexpected else None,
            extra={**_ids(delivery_id), "attempt": attempt},
        )
        metrics().mails_failed.labels(kind).inc()
        return SendResult(Outcome.FAILED, error=reason)


def _describe(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"


def _ids(delivery_id: int) -> dict[str, int]:
    return {"delivery_id": delivery_id}


def _warn_interrupted(delivery_id: int, attempts: int) -> None:
    logger.warning(
        "an earlier attempt was interrupted mid-send; sending again, which "
        "duplicates the mail if the server had accepted it",
        extra={**_ids(delivery_id), "attempts": attempts},
    )
