"""A tick that expires before a worker takes it (the notifier down or busy) vanishes: the
worker discards it unrun, and nothing of it is left in any queue, the dead-letter queue
included. Real Celery processes on the test virtual host."""

import os
import time
import uuid
from datetime import UTC, datetime

from tracker_contracts.messaging import NOTIFIER_TICKS, REMINDERS_TASK
from tracker_runtime.celery_app import celery_app
from tracker_runtime.settings import ServiceSettings

from .conftest import Workers
from .support import broker, wait_for

EXPIRES_S = 1.0


def depth(queue: str) -> int:
    with broker() as connection:
        _, messages, _ = connection.default_channel.queue_declare(queue, passive=True)
        return int(messages)


def test_an_expired_tick_is_discarded_unrun_and_leaves_no_trace(workers: Workers) -> None:
    sender = celery_app("tests-ticks", ServiceSettings(rabbitmq_url=os.environ["RABBITMQ_URL"]))
    tick = f"expired-{uuid.uuid4()}"
    try:
        sender.send_task(
            REMINDERS_TASK,
            kwargs={"at": datetime.now(UTC).isoformat(), "horizon": 0},
            task_id=tick,
            expires=EXPIRES_S,
        )
    finally:
        sender.close()
    time.sleep(3 * EXPIRES_S)  # expired, with no worker to take it

    assert depth(NOTIFIER_TICKS.dead_letter_queue) == 0, "the broker dead-lettered the tick"
    assert depth(NOTIFIER_TICKS.name) == 1

    worker = workers.start()
    wait_for(
        lambda: f"Discarding revoked task: {REMINDERS_TASK}[{tick}]" in worker.log_text(),
        what=f"the worker to discard the expired tick; log:\n{worker.tail()}",
    )
    wait_for(lambda: depth(NOTIFIER_TICKS.name) == 0, what="the tick to be acknowledged")
    assert depth(NOTIFIER_TICKS.dead_letter_queue) == 0
