"""The consumer step: the Celery adapter of the notifier's subscriptions (see
``subscriptions``), receiving events from their queue inside the Celery worker.

It only settles messages: each is validated against the contract and the subscriptions
(``Subscriptions.validate``), handed to the ``handle_event`` task (published with publisher
confirms on the notifier's task queue), which dispatches it to its handler, and only then
acknowledged. Its concurrency is the worker's: the step holds ``events_prefetch``
messages at a time and the task's processes do the work.

A message that is not a valid event of a subscribed type is rejected without requeue,
which dead-letters it to ``notifier.events.dead-letter``; nothing a message holds can stop
the step. Redelivery is fine: the task id is derived from the event id and the
task deduplicates on it through the inbox.

Metrics (``tracker_runtime.metrics``): the step counts redeliveries, what it dead-letters
and what it could not hand over (failed, requeued); the task counts what it applied.
"""

import logging
from typing import Any

from celery import bootsteps
from kombu.messaging import Consumer

from tracker_contracts import Envelope, EventData, InvalidEvent
from tracker_contracts.messaging import HANDLE_EVENT_TASK
from tracker_notifier.config import get_settings
from tracker_notifier.context import request_context
from tracker_notifier.events.subscriptions import SUBSCRIPTIONS
from tracker_runtime.kombu_topology import consumer_queue
from tracker_runtime.metrics import (
    EVENTS_DEAD_LETTERED,
    EVENTS_FAILED,
    EVENTS_REDELIVERED,
    UNKNOWN_EVENT_TYPE,
)

logger = logging.getLogger("tracker.notifier.consumer")

PUBLISH_CONFIRM_TIMEOUT = 10.0


def handle_event_task_id(envelope: Envelope[EventData]) -> str:
    return f"event-{envelope.event_id}"


def event_labels(message: Any) -> tuple[str, str]:
    """The event metrics' labels of a message: its routing key when the queue is bound to
    it (never a value a producer made up), else ``unknown``."""
    key = message.delivery_info.get("routing_key")
    known = key in SUBSCRIPTIONS.queue.routing_keys
    return SUBSCRIPTIONS.queue.name, str(key) if known else UNKNOWN_EVENT_TYPE


class EventsConsumerStep(bootsteps.ConsumerStep):  # type: ignore[misc]
    """Registered with ``app.steps["consumer"].add(EventsConsumerStep)``."""

    name = "tracker_notifier.EventsConsumer"

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self._app = parent.app
        self._prefetch = get_settings().events_prefetch

    def get_consumers(self, channel: Any) -> list[Any]:
        # The queue is the shared topology's, declared by provisioning: only consumed here.
        return [
            Consumer(  # kombu is unannotated
                channel,
                queues=[consumer_queue(SUBSCRIPTIONS.queue)],
                on_message=self.on_message,
                on_decode_error=self.on_undecodable,
                auto_declare=False,
                # Applied per consumer (basic.qos with global=False), which quorum queues need.
                prefetch_count=self._prefetch,
                tag_prefix="tracker-notifier-",
            )
        ]

    def on_undecodable(self, message: Any, error: Exception) -> None:
        """A message kombu cannot even unpack (a bad ``compression`` header, say)."""
        logger.warning(
            "undecodable message dead-lettered: %s: %s",
            type(error).__name__,
            error,
            extra={"message_id": message.properties.get("message_id")},
        )
        EVENTS_DEAD_LETTERED.labels(*event_labels(message)).inc()
        _settle(message.reject, requeue=False)

    def on_message(self, message: Any) -> None:
        headers: dict[str, Any] = message.headers or {}
        request_id = headers.get("x-request-id")
        with request_context(request_id):
            self._hand_over(message, headers, request_id)

    def _hand_over(self, message: Any, headers: dict[str, Any], request_id: object) -> None:
        about = {
            "message_id": message.properties.get("message_id"),
            "redelivered": bool(message.delivery_info.get("redelivered")),
        }
        labels = event_labels(message)
        if about["redelivered"]:
            EVENTS_REDELIVERED.labels(*labels).inc()
        try:
            envelope = SUBSCRIPTIONS.validate(message.body, headers)
        except InvalidEvent as error:
            logger.warning("invalid event dead-lettered: %s", error, extra=about)
            EVENTS_DEAD_LETTERED.labels(*labels).inc()
            _settle(message.reject, requeue=False)
            return
        try:
            self._app.send_task(
                HANDLE_EVENT_TASK,
                args=(envelope.model_dump(mode="json"), str(request_id) if request_id else None),
                task_id=handle_event_task_id(envelope),
                confirm_timeout=PUBLISH_CONFIRM_TIMEOUT,
                # What Celery logs of the task's arguments ("received", failures): never the
                # event itself, whose payload may hold a link's token.
                argsrepr=f"({envelope.event_type.value} {envelope.event_id})",
                kwargsrepr="{}",
            )
        except Exception:
            # The broker did not confirm the task; the event goes back to its queue.
            logger.exception("could not hand the event to a task; requeued", extra=about)
            EVENTS_FAILED.labels(*labels).inc()
            _settle(message.requeue)
            return
        _settle(message.ack)
        logger.info(
            "event received",
            extra={**about, "event_id": str(envelope.event_id), "event_type": envelope.event_type},
        )


def _settle(settle: Any, **kwargs: Any) -> None:
    try:
        settle(**kwargs)
    except Exception:  # the channel is gone; the broker redelivers the message anyway
        logger.warning("could not settle a message; the broker will redeliver it", exc_info=True)
