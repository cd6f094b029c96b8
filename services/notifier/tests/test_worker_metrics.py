"""The worker as it runs, seen by an operator: its main process serves the metrics of every
process of its pool, and touches its heartbeat file while its event loop turns."""

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from devsupport.network import free_port
from tests.support.metrics import scraped
from tracker_contracts.messaging import NOTIFIER_EVENTS
from tracker_notifier.db import Database
from tracker_notifier.deliveries.models import DeliveryStatus

from .conftest import fresh_queues, worker_environment
from .support import (
    SmtpServer,
    WorkerProcess,
    publish_event,
    wait_for,
    wait_for_mail,
    wait_for_status,
    welcome_requested,
)

HEARTBEAT_INTERVAL = 1


class MeasuredWorker:
    def __init__(self, process: WorkerProcess, port: int, heartbeat: Path, folder: Path) -> None:
        self.process = process
        self.url = f"http://127.0.0.1:{port}/metrics"
        self.heartbeat = heartbeat
        self.folder = folder

    def metrics(self) -> str:
        response = httpx.get(self.url, timeout=5)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        return response.text


@pytest.fixture(scope="module")
def measured(
    engine: Engine, smtp_server: SmtpServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MeasuredWorker]:
    fresh_queues()
    folder = tmp_path_factory.mktemp("measured-worker")
    port = free_port()
    metrics_dir = folder / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_1.db").write_bytes(b"left by an earlier run")
    heartbeat = folder / "heartbeat"
    environment = {
        **worker_environment(smtp_server),
        "NOTIFIER_METRICS_PORT": str(port),
        "NOTIFIER_METRICS_DIR": str(metrics_dir),
        "NOTIFIER_HEARTBEAT_FILE": str(heartbeat),
        "NOTIFIER_HEARTBEAT_INTERVAL": str(HEARTBEAT_INTERVAL),
    }
    process = WorkerProcess(environment, folder / "worker.log")
    try:
        process.start()
        yield MeasuredWorker(process, port, heartbeat, metrics_dir)
    finally:
        process.stop()


def test_a_welcome_mail_is_counted_by_the_pool_process_that_sent_it(
    measured: MeasuredWorker, smtp: SmtpServer, database: Database
) -> None:
    address = f"counted-{uuid.uuid4().hex[:8]}@example.com"
    event_labels = {"queue": NOTIFIER_EVENTS.name, "event_type": "user.registered"}
    before = measured.metrics()
    assert "# TYPE tracker_digest_users_total counter" in before, "served from the start"

    publish_event(welcome_requested(address))
    wait_for_mail(smtp, measured.process, address)
    wait_for_status(database, measured.process, address, DeliveryStatus.SENT)

    sent = scraped(before, "tracker_mails_sent_total", kind="welcome") + 1

    def counted() -> str | None:
        text = measured.metrics()
        return text if scraped(text, "tracker_mails_sent_total", kind="welcome") >= sent else None

    text = wait_for(
        counted, what=f"the sent welcome mail in the metrics; log:\n{measured.process.tail()}"
    )
    assert scraped(text, "tracker_mails_sent_total", kind="welcome") == sent
    assert scraped(text, "tracker_events_consumed_total", **event_labels) == (
        scraped(before, "tracker_events_consumed_total", **event_labels) + 1
    )
    assert scraped(text, "tracker_mails_failed_total", kind="welcome") == 0
    # The pool process wrote its counts in the folder the main process serves, emptied of
    # what an earlier run had left there.
    assert not (measured.folder / "counter_1.db").exists()
    assert len(list(measured.folder.glob("counter_*.db"))) >= 1


def test_the_heartbeat_file_is_touched_every_interval(measured: MeasuredWorker) -> None:
    first = wait_for(
        lambda: measured.heartbeat.stat().st_mtime if measured.heartbeat.exists() else None,
        what="the heartbeat file",
    )
    touched = wait_for(
        lambda: (mtime := measured.heartbeat.stat().st_mtime) > first and mtime,
        timeout=5 * HEARTBEAT_INTERVAL,
        what="the heartbeat to be touched again",
    )
    assert time.time() - touched < 3 * HEARTBEAT_INTERVAL
    assert os.environ.get("NOTIFIER_METRICS_PORT") == "0", "other tests' workers serve none"
