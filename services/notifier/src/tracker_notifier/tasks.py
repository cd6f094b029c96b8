"""The notifier's Celery tasks. They take ids and plain JSON, never objects, and are
idempotent: with late acks any of them may run again after a worker dies."""

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, TypeVar

from celery.exceptions import Retry
from kombu.exceptions import OperationalError as KombuOperationalError
from sqlalchemy.exc import OperationalError

from tracker_contracts import Envelope, EventData, TaskCreated, parse_envelope
from tracker_contracts.messaging import (
    DIGEST_TASK,
    HANDLE_EVENT_TASK,
    REMINDERS_TASK,
    SEND_DELIVERIES_TASK,
    SEND_DELIVERY_TASK,
)
from tracker_notifier.context import NotifierContext, get_context, request_context
from tracker_notifier.deliveries.service import (
    AcceptedButNotRecorded,
    BatchResult,
    DeliverySender,
    Outcome,
)
from tracker_notifier.digest.service import DigestRun, Progress
from tracker_notifier.digest.summaries import SummariesUnavailable
from tracker_notifier.events import service as events
from tracker_notifier.events.subscriptions import SUBSCRIPTIONS
from tracker_notifier.reminders.service import ReminderRun
from tracker_notifier.worker import app
from tracker_runtime.backoff import backoff_delay
from tracker_runtime.metrics import (
    EVENTS_CONSUMED,
    EVENTS_DEAD_LETTERED,
    EVENTS_FAILED,
    UNKNOWN_EVENT_TYPE,
)

logger = logging.getLogger("tracker.notifier.tasks")

OUTAGE_RETRIES = 40
"""Retries while the database is unreachable; with the delay capped at ten minutes this
waits out an outage of several hours before the task is dead-lettered."""
OUTAGE_MAX_DELAY = 600.0
DIGEST_RETRIES = 5
"""Retries of a tick that failed (tasks service or database away); the next scheduled tick
catches up anyway, so a tick that keeps failing is dropped, not dead-lettered."""
DIGEST_TIME_LIMIT = 3600
SEND_CHUNK = 100
"""Deliveries per batch send task: small enough to spread over the worker's processes."""
SEND_BATCH_TIME_LIMIT = 1800
REMINDERS_TIME_LIMIT = 120
MAX_EARLY_WAIT_S = 2.0
REMINDER_SEND_CHUNK = 20
"""Reminder mails per send task: smaller than a digest's chunks, so that the reminders
falling due in one second are sent by every worker process side by side."""
WAKE_UP_EXPIRES = timedelta(minutes=1)
"""A wake-up that could not run within this of its instant is dropped: the scheduler's
ticks fire what it would have."""
NEAR_REMINDER = timedelta(minutes=1)
"""A reminder an event sets within this of now gets a wake-up of its own at once (later
ones are arranged by the scheduler's ticks)."""

BUSY_RECHECK_S = 5.0
BUSY_RECHECKS = 24
"""A delivery another task holds is looked at again this much later, this many times at
most: its holder may be a process that was just killed, whose database connection (and
so its lock) lives on for a moment after the broker handed its task to another worker. A
delivery its holder sent by then is left alone; one still held after two minutes is left
to its holder, or to the digest tick's sweep of mails stuck 'sending'."""

F = TypeVar("F", bound=Callable[..., Any])


def task(name: str, **options: Any) -> Callable[[F], Any]:
    decorator: Callable[[F], Any] = app.task(name=name, bind=True, max_retries=None, **options)
    return decorator


def outage_delay(retries: int) -> float:
    return backoff_delay(retries + 2, base=1.0, cap=OUTAGE_MAX_DELAY, floor=1.0)


def retry_after_outage(task: Any, error: Exception, **options: Any) -> Exception:
    """The retry to raise when a dependency (database, broker) is away: backed off, and
    given up (dead-lettered) after :data:`OUTAGE_RETRIES`."""
    retry: Exception = task.retry(
        exc=error,
        countdown=outage_delay(task.request.retries),
        max_retries=OUTAGE_RETRIES,
        **options,
    )
    return retry


def send_delivery_task_id(delivery_id: int) -> str:
    return f"delivery-{delivery_id}"


def enqueue_send(delivery_id: int, request: str | None, countdown: float | None = None) -> None:
    send_delivery.apply_async(
        args=(delivery_id,),
        kwargs={"request": request},
        task_id=send_delivery_task_id(delivery_id),
        countdown=countdown,
    )


def enqueue_sends(
    delivery_ids: list[int],
    request: str | None,
    chunk: int = SEND_CHUNK,
    countdown: float | None = None,
) -> None:
    """Hand deliveries to the senders in chunks, each one task (see :func:`send_now`)."""
    for start in range(0, len(delivery_ids), chunk):
        send_deliveries.apply_async(
            args=(delivery_ids[start : start + chunk],),
            kwargs={"request": request},
            countdown=countdown,
        )


@dataclass(frozen=True, slots=True)
class Unsent:
    """What :func:`send_now` left for later."""

    delivery_ids: list[int]
    countdown: float
    outage: Exception | None = None
    """Set when the database went away: what is left waits for it to come back."""


def send_now(delivery_ids: list[int], request: str | None) -> Unsent:
    """Send deliveries over this process's SMTP connections, the batch shared between them
    and sent side by side (``DeliverySender.send_batch`` on each share). A delivery to
    retry gets its own ``send_delivery`` task with its backoff, and one the server accepted
    but the database did not record, a task that records it; what the server could not
    take, and what the database's absence held up, is returned."""
    context = get_context()
    shares = [share for share in _shares(delivery_ids, len(context.mailers)) if share]
    senders = context.senders
    if len(shares) == 1:
        outcomes = [_send_share(senders[0], shares[0])]
    else:
        futures = [
            context.in_thread(partial(_send_share, sender, share))
            for sender, share in zip(senders, shares, strict=False)
        ]
        outcomes = [future.result() for future in futures]
    unsent: list[int] = []
    delay = 0.0
    outage: Exception | None = None
    for share, outcome in zip(shares, outcomes, strict=True):
        if isinstance(outcome, AcceptedButNotRecorded):
            logger.warning("mail accepted but not recorded; recording it later")
            send_delivery.apply_async(
                args=(outcome.delivery_id,),
                kwargs={"accepted_at": outcome.sent_at.isoformat(), "request": request},
                countdown=outage_delay(0),
            )
            unsent += share[share.index(outcome.delivery_id) + 1 :]
            outage = outcome
        elif isinstance(outcome, OperationalError):
            logger.warning("database unavailable, the mails wait: %s", outcome)
            unsent += share
            outage = outcome
        else:
            for delivery_id, result in outcome.results.items():
                if result.outcome is Outcome.RETRY and result.retry_in is not None:
                    enqueue_send(delivery_id, request, countdown=result.retry_in)
                    delay = max(delay, result.retry_in)
                elif result.outcome is Outcome.BUSY:
                    logger.info(
                        "delivery held by another task; looking again in %.0f s",
                        BUSY_RECHECK_S,
                        extra={"delivery_id": delivery_id},
                    )
                    enqueue_send(delivery_id, request, countdown=BUSY_RECHECK_S)
            if outcome.untried:
                logger.warning("the mail server is in trouble; %d mails wait", len(outcome.untried))
            unsent += outcome.untried
    return Unsent(unsent, delay or outage_delay(0), outage)


def _shares(delivery_ids: list[int], count: int) -> list[list[int]]:
    """``delivery_ids`` dealt out into ``count`` shares, in order within each."""
    return [delivery_ids[start::count] for start in range(count)]


def _send_share(
    sender: DeliverySender, delivery_ids: list[int]
) -> BatchResult | AcceptedButNotRecorded | OperationalError:
    try:
        return sender.send_batch(delivery_ids)
    except (AcceptedButNotRecorded, OperationalError) as error:
        return error


def digest_run(
    context: NotifierContext, request: str | None = None, progress: Progress | None = None
) -> DigestRun:
    return DigestRun(
        context.database,
        context.summaries,
        context.settings,
        enqueue=lambda delivery_ids: enqueue_sends(delivery_ids, request),
        progress=progress,
    )


def wake_up_reminders(at: datetime) -> None:
    """A reminders tick at ``at`` (through RabbitMQ's delayed delivery, then held by the
    worker until the instant), arranging nothing further. Delayed delivery counts whole
    seconds (and refuses less than one), so a wake-up due within the second is sent at once
    and waits for its instant in the task."""
    eta = at if at - datetime.now(UTC) >= timedelta(seconds=1) else None
    reminders.apply_async(
        kwargs={"at": at.isoformat(), "horizon": 0},
        eta=eta,
        expires=at + WAKE_UP_EXPIRES,
    )


def reminder_run(context: NotifierContext, request: str | None = None) -> ReminderRun:
    return ReminderRun(
        context.database,
        context.settings,
        enqueue=lambda delivery_ids: enqueue_sends(delivery_ids, request, REMINDER_SEND_CHUNK),
        wake_up=wake_up_reminders,
    )


def _wake_up_for(event: Envelope[EventData]) -> None:
    """A wake-up at the reminder an event has just set, when it falls due before the
    scheduler's ticks would arrange one."""
    task = event.data
    if not isinstance(task, TaskCreated) or task.reminder_at is None or task.status != "open":
        return
    if task.reminder_at - datetime.now(UTC) <= NEAR_REMINDER:
        wake_up_reminders(max(task.reminder_at, datetime.now(UTC)))


def event_labels(envelope: dict[str, Any]) -> tuple[str, str]:
    """The event metrics' labels of an event the consumer step handed over."""
    event_type = envelope.get("event_type")
    known = event_type in SUBSCRIPTIONS.queue.routing_keys
    return SUBSCRIPTIONS.queue.name, str(event_type) if known else UNKNOWN_EVENT_TYPE


@task(HANDLE_EVENT_TASK)
def handle_event(self: Any, envelope: dict[str, Any], request: str | None = None) -> None:
    """Apply one event (deduplicated on its id), then enqueue the mails it caused. Counted
    as consumed once applied, failed when retried, dead-lettered when it fails for good
    (out of retries, or an error no retry mends: the task is rejected)."""
    labels = event_labels(envelope)
    try:
        _apply_event(self, envelope, request)
    except Retry:
        EVENTS_FAILED.labels(*labels).inc()
        raise
    except Exception:
        EVENTS_DEAD_LETTERED.labels(*labels).inc()
        raise
    EVENTS_CONSUMED.labels(*labels).inc()


def _apply_event(task: Any, envelope: dict[str, Any], request: str | None) -> None:
    with request_context(request):
        event = parse_envelope(json.dumps(envelope))
        context = get_context()
        try:
            with context.database.transaction() as session:
                delivery_ids = events.handle_event(session, event, context.settings)
        except OperationalError as error:
            logger.warning("database unavailable, retrying: %s", error)
            raise retry_after_outage(task, error) from error
        try:
            _wake_up_for(event)
            if delivery_ids:
                # Sent here and now, not through a send task of their own: one hop less
                # for a welcome mail. A worker that dies before they are sent leaves this
                # task unacknowledged, and its redelivery sends them (``handle_event``).
                unsent = send_now(delivery_ids, request)
                enqueue_sends(unsent.delivery_ids, request, countdown=unsent.countdown)
        except (KombuOperationalError, OSError) as error:
            # Stored but neither sent nor enqueued: the retry finds the event in the inbox
            # and sends what it left.
            logger.warning("could not enqueue the mails, retrying: %s", error)
            raise retry_after_outage(task, error) from error


@task(SEND_DELIVERY_TASK)
def send_delivery(
    self: Any, delivery_id: int, accepted_at: str | None = None, request: str | None = None
) -> None:
    """Send one delivery; retries transient failures with backoff (see
    ``deliveries.service`` for the states and the one duplicate window)."""
    with request_context(request):
        context = get_context()
        try:
            result = context.sender.send(
                delivery_id,
                accepted_at=datetime.fromisoformat(accepted_at) if accepted_at else None,
            )
        except AcceptedButNotRecorded as error:
            logger.warning("mail accepted but not recorded; recording it later")
            # The retry records the send and never sends again. Its arguments are given in
            # full, the way enqueue_send passes them: the id positionally and the rest by
            # keyword (naming the id both ways is a TypeError in Celery before 5.7).
            accepted = {"accepted_at": error.sent_at.isoformat(), "request": request}
            raise retry_after_outage(self, error, args=(delivery_id,), kwargs=accepted) from error
        except OperationalError as error:
            logger.warning("database unavailable, retrying: %s", error)
            raise retry_after_outage(self, error) from error
        if result.outcome is Outcome.RETRY and result.retry_in is not None:
            raise self.retry(countdown=result.retry_in)
        if result.outcome is Outcome.BUSY and self.request.retries < BUSY_RECHECKS:
            raise self.retry(countdown=BUSY_RECHECK_S)


@task(SEND_DELIVERIES_TASK, time_limit=SEND_BATCH_TIME_LIMIT)
def send_deliveries(self: Any, delivery_ids: list[int], request: str | None = None) -> None:
    """Send a batch of deliveries over the process's SMTP connections (see
    :func:`send_now`). A delivery to retry gets its own ``send_delivery`` task
    with its backoff; a batch the server could not take waits as a whole."""
    with request_context(request):
        unsent = send_now(delivery_ids, request)
        if not unsent.delivery_ids:
            return
        outage = unsent.outage
        if outage is not None:
            raise retry_after_outage(self, outage, args=(unsent.delivery_ids,)) from outage
        raise self.retry(args=(unsent.delivery_ids,), countdown=unsent.countdown)


@task(DIGEST_TASK, time_limit=DIGEST_TIME_LIMIT)
def digest(self: Any, at: str, request: str | None = None) -> None:
    """One digest tick at the instant ``at`` (sent by the scheduler's beat, by name)."""
    with request_context(request):
        instant = datetime.fromisoformat(at)
        try:
            digest_run(get_context(), request).tick(instant)
        except (SummariesUnavailable, OperationalError, KombuOperationalError, OSError) as error:
            if self.request.retries >= DIGEST_RETRIES:
                logger.error(
                    "digest tick at %s failed for good, leaving it to the next: %s", at, error
                )
                return
            logger.warning("digest tick at %s failed, retrying: %s", at, error)
            raise self.retry(exc=error, countdown=outage_delay(self.request.retries)) from error


@task(REMINDERS_TASK, time_limit=REMINDERS_TIME_LIMIT)
def reminders(self: Any, at: str, horizon: float = 0, request: str | None = None) -> None:
    """One reminders tick (sent by the scheduler's beat, by name, or arranged by an earlier
    tick): fires what is due, arranges wake-ups within ``horizon`` seconds."""
    with request_context(request):
        instant = datetime.fromisoformat(at)
        early = (instant - datetime.now(UTC)).total_seconds()
        if 0 < early <= MAX_EARLY_WAIT_S:
            time.sleep(early)  # a wake-up sent within a second of its instant
        try:
            reminder_run(get_context(), request).tick(instant, horizon)
        except (OperationalError, KombuOperationalError, OSError) as error:
            # The next tick, seconds away, does the same; a failing one is only logged.
            logger.warning("reminders tick at %s failed, leaving it to the next: %s", at, error)
