"""Test doubles that are real: an SMTP server over TCP, a Celery worker in a subprocess,
events published to RabbitMQ as the outbox relay publishes them."""

import asyncio
import json
import os
import secrets
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, TypeVar

import aio_pika
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP
from celery import Celery
from kombu.connection import Connection
from sqlalchemy import select, text

from devsupport.network import free_port
from devsupport.processes import notifier_worker_command, spawn, stop_process
from scripts.mail_catcher import MailCatcher
from tracker_contracts import Envelope, EventData, UserRegistered
from tracker_contracts.messaging import EVENTS_EXCHANGE, SEND_DELIVERIES_TASK
from tracker_notifier.config import Settings
from tracker_notifier.db import Database
from tracker_notifier.deliveries.models import Delivery, DeliveryStatus
from tracker_notifier.events.service import handle_event
from tracker_runtime.kombu_topology import task_queue_settings

ROOT = Path(__file__).resolve().parents[3]
WAIT_SECONDS = 20.0

T = TypeVar("T")


def wait_for(
    probe: Callable[[], T | None], *, timeout: float = WAIT_SECONDS, what: str = "a condition"
) -> T:
    """Poll ``probe`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.05)


# -- SMTP ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedMail:
    recipients: list[str]
    message: EmailMessage
    peer: tuple[str, int]
    """The client's address: one value per SMTP connection."""
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    """When the server accepted the message."""


@dataclass
class Script:
    """How the server misbehaves, per recipient (other mail, from events other test runs
    publish to the shared virtual host, passes untouched); reset before every test."""

    defer: dict[str, int] = field(default_factory=dict)
    """Answer 451 to the data of this many next messages to each address."""
    refuse: set[str] = field(default_factory=set)
    """Answer 550 to these recipients."""
    hold: set[str] = field(default_factory=set)
    """Keep the data of the next message to one of these waiting (no reply) until
    :meth:`SmtpServer.release`."""
    slow: float = 0.0
    """Seconds to wait before answering the data of every message: a busy server."""


class ScriptedMailCatcher(MailCatcher):
    """The development mail catcher, scripted to fail the way real servers do."""

    def __init__(self) -> None:
        super().__init__(directory=None)
        self.lock = threading.Lock()
        self.script = Script()
        self.mails: list[ReceivedMail] = []
        self.deferred: list[str] = []
        self.refused: list[str] = []
        self.data_held = threading.Event()
        self.released = threading.Event()
        self.released.set()

    def reset(self) -> None:
        with self.lock:
            self.script = Script()
            self.mails.clear()
            self.deferred.clear()
            self.refused.clear()
        self.data_held.clear()
        self.released.set()

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        with self.lock:
            refuse = address in self.script.refuse
            if refuse:
                self.refused.append(address)
        if refuse:
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        recipients = set(envelope.rcpt_tos)
        with self.lock:
            deferred = next((a for a in recipients if self.script.defer.get(a, 0) > 0), None)
            if deferred is not None:
                self.script.defer[deferred] -= 1
                self.deferred.append(deferred)
            hold = bool(recipients & self.script.hold)
            self.script.hold -= recipients
            slow = self.script.slow
        if deferred is not None:
            return "451 4.3.0 Try again later"
        if slow:
            await asyncio.sleep(slow)
        if hold:
            self.released.clear()
            self.data_held.set()
            deadline = time.monotonic() + WAIT_SECONDS
            while not self.released.is_set() and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
        return await super().handle_DATA(server, session, envelope)

    def received(self, recipients: list[str], content: bytes, session: Any) -> None:
        message = message_from_bytes(content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        with self.lock:
            self.mails.append(ReceivedMail(recipients, message, tuple(session.peer)))

    def mails_to(self, address: str) -> list[ReceivedMail]:
        with self.lock:
            return [mail for mail in self.mails if address in mail.recipients]


class _TrackedSMTP(SMTP):
    def __init__(self, server: "SmtpServer", *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._server = server

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._server.opened(self)

    def connection_lost(self, error: Exception | None) -> None:
        self._server.closed(self)
        super().connection_lost(error)


class SmtpServer(Controller):
    """A real SMTP server on a free port, in a thread, counting its connections; with
    ``smtputf8`` it offers SMTPUTF8 (RFC 6531), as many but not all servers do."""

    def __init__(self, *, smtputf8: bool = False) -> None:
        self.catcher = ScriptedMailCatcher()
        self.smtputf8 = smtputf8
        self.connections_opened = 0
        self._open: set[_TrackedSMTP] = set()
        self._open_lock = threading.Lock()
        super().__init__(
            self.catcher, hostname="127.0.0.1", port=free_port(), enable_SMTPUTF8=smtputf8
        )

    def factory(self) -> SMTP:
        return _TrackedSMTP(self, self.handler, **self.SMTP_kwargs)

    def opened(self, protocol: _TrackedSMTP) -> None:
        with self._open_lock:
            self.connections_opened += 1
            self._open.add(protocol)

    def closed(self, protocol: _TrackedSMTP) -> None:
        with self._open_lock:
            self._open.discard(protocol)

    def _still_open(self, protocols: set[_TrackedSMTP]) -> bool:
        with self._open_lock:
            return bool(protocols & self._open)

    def drop_connections(self) -> None:
        """Close every client connection from the server's side, as an idle timeout does."""
        with self._open_lock:
            dropped = set(self._open)

        def drop() -> None:
            for protocol in dropped:
                if protocol.transport is not None:
                    protocol.transport.close()

        self.loop.call_soon_threadsafe(drop)
        wait_for(
            lambda: not self._still_open(dropped), timeout=5, what="the server to drop connections"
        )

    def release(self) -> None:
        self.catcher.released.set()


# -- RabbitMQ -----------------------------------------------------------------------------


def broker(*, confirm_publish: bool = False) -> Any:
    """A kombu connection to the test virtual host (kombu is unannotated: typed as Any)."""
    options = {"confirm_publish": True} if confirm_publish else {}
    return Connection(os.environ["RABBITMQ_URL"], transport_options=options)


def handle(database: Database, envelope: Envelope[EventData], settings: Settings) -> list[int]:
    """Handle one event in a transaction, as the worker's event task does."""
    with database.transaction() as session:
        return handle_event(session, envelope, settings)


def welcome_requested(email: str, *, token: str | None = None) -> Envelope[EventData]:
    """The registration of a new user, which asks for their welcome mail (with a fresh
    link)."""
    return Envelope.wrap(
        UserRegistered(
            user_id=uuid.uuid4(),
            email=email,
            timezone="UTC",
            token=token or secrets.token_urlsafe(32),
            expires_at=datetime.now(UTC) + timedelta(days=2),
        )
    )


def publish_raw(
    body: bytes,
    *,
    routing_key: str,
    message_id: str,
    headers: dict[str, Any] | None = None,
) -> None:
    """Publish to ``tracker.events`` with aio-pika and the properties the outbox relay sets:
    persistent, JSON, ``message_id`` = event id, mandatory, confirmed by the broker. (In a
    thread of its own, so it never touches the event loop pytest-asyncio keeps.)"""

    async def publish() -> None:
        connection = await aio_pika.connect(os.environ["RABBITMQ_URL"])
        try:
            channel = await connection.channel(publisher_confirms=True)
            exchange = await channel.get_exchange(EVENTS_EXCHANGE, ensure=False)
            message = aio_pika.Message(
                body,
                content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                message_id=message_id,
                headers=headers or {},
            )
            await exchange.publish(message, routing_key=routing_key, mandatory=True, timeout=10)
        finally:
            await connection.close()

    with ThreadPoolExecutor(max_workers=1) as thread:
        thread.submit(asyncio.run, publish()).result(timeout=30)


def send_batch_task(delivery_ids: list[int]) -> None:
    """A batch send task, as a digest tick enqueues it."""
    app = Celery("tests", set_as_current=False)
    app.conf.update(task_queue_settings(os.environ["RABBITMQ_URL"]))
    try:
        app.send_task(SEND_DELIVERIES_TASK, args=(delivery_ids,))
    finally:
        app.close()


def publish_event(envelope: Envelope[EventData], *, request_id: str | None = None) -> None:
    headers: dict[str, Any] = {
        "event_type": envelope.event_type.value,
        "event_version": type(envelope.data).VERSION,
    }
    if request_id:
        headers["x-request-id"] = request_id
    publish_raw(
        json.dumps(envelope.model_dump(mode="json")).encode(),
        routing_key=envelope.event_type.value,
        message_id=str(envelope.event_id),
        headers=headers,
    )


def queue_consumers(name: str) -> int:
    with broker() as connection:
        _, _, consumers = connection.default_channel.queue_declare(name, passive=True)
        return int(consumers)


def purge(*names: str) -> None:
    with broker() as connection:
        channel = connection.default_channel
        for name in names:
            channel.queue_purge(name)


def take_messages(queue: str) -> list[Any]:
    """Every message now in ``queue``, removed from it."""
    taken = []
    with broker() as connection:
        channel = connection.default_channel
        while (message := channel.basic_get(queue, no_ack=True)) is not None:
            taken.append(message)
    return taken


# -- the worker ---------------------------------------------------------------------------


class WorkerProcess:
    """``celery -A tracker_notifier.worker worker`` in its own process group."""

    def __init__(self, environment: dict[str, str], log: Path) -> None:
        self.log = log
        self._environment = environment
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, *, timeout: float = 30.0) -> None:
        name = f"notifier-test-{uuid.uuid4().hex[:8]}@%h"
        self._process = spawn(
            notifier_worker_command(concurrency=1, name=name),
            log=self.log,
            environment={**os.environ, **self._environment},
            cwd=ROOT,
            append=True,
        )
        wait_for(self._ready, timeout=timeout, what=f"the worker to start; log:\n{self.tail()}")

    def _ready(self) -> bool:
        assert self._process is not None
        if self._process.poll() is not None:
            raise AssertionError(f"the worker exited early; log:\n{self.tail()}")
        return " ready." in self.log.read_text(errors="replace")

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and pool), as an OOM kill would."""
        if self._process is not None:
            stop_process(self._process, signal_number=signal.SIGKILL)

    def stop(self) -> None:
        """Warm shutdown, and a kill if that takes too long; always leaves nothing behind."""
        if self._process is not None:
            stop_process(self._process, group=False)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def tail(self, lines: int = 60) -> str:
        if not self.log.exists():
            return "(no log)"
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


# -- what the worker did ------


def unique(name: str) -> str:
    return f"{name}.{uuid.uuid4().hex[:8]}@example.com"


def wait_for_mail(smtp: SmtpServer, worker: WorkerProcess, address: str) -> ReceivedMail:
    mails = wait_for(
        lambda: smtp.catcher.mails_to(address),
        what=f"a mail to {address}; worker log:\n{worker.tail()}",
    )
    return mails[0]


def delivery_to(database: Database, address: str) -> Delivery:
    with database.transaction() as session:
        return session.scalars(select(Delivery).where(Delivery.to_address == address)).one()


def wait_for_status(
    database: Database,
    worker: WorkerProcess,
    address: str,
    status: DeliveryStatus,
    *,
    timeout: float = WAIT_SECONDS,
) -> Delivery:
    def reached() -> Delivery | None:
        row = delivery_to_or_none(database, address)
        return row if row is not None and row.status is status else None

    return wait_for(
        reached,
        timeout=timeout,
        what=f"the delivery to {address} to be {status}; worker log:\n{worker.tail()}",
    )


def delivery_to_or_none(database: Database, address: str) -> Delivery | None:
    with database.transaction() as session:
        return session.scalars(select(Delivery).where(Delivery.to_address == address)).one_or_none()


def terminate_lock_holder(database: Database, delivery_id: int) -> int:
    """End the database session that holds the delivery's advisory lock (the worker's, in
    the middle of sending it), as a database restart or a network cut would; returns how
    many sessions were ended."""
    with database.engine.begin() as connection:
        ended = connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_locks "
                "WHERE locktype = 'advisory' AND granted AND objsubid = 1 "
                "AND classid = CAST(:id AS bigint) >> 32 "
                "AND objid = CAST(:id AS bigint) & 4294967295 "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            ),
            {"id": delivery_id},
        )
        return sum(1 for row in ended if row[0])
