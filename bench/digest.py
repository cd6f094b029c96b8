"""One full nightly digest run for 100,000 users with 20 tasks each.

The users and tasks are generated straight into the benchmark's databases (once; later
runs reuse them). Real auth, tasks and notifier processes run as in `make dev`. The SMTP
server is a bare aiosmtpd sink in this process, which accepts each mail and keeps nothing
(``BENCH_DIGEST_SMTP=catcher``: the development mail catcher, which stores every mail as
files, in a process of its own), so that the figures are the notifier's, not the mail
server's. The digest task is sent by name, as the scheduler sends it, and the run ends when
every mail was accepted.

Figures: the whole run's time; the rate at which the run claimed users (claims, one
summaries call per batch, and the deliveries written); the summaries API alone, called by
this process for every user in batches of 500; the notifier's peak memory (the resident
set of the worker's main process and its children, as proportional set size so that pages
shared after ``fork`` count once, sampled every 0.2 s) and its CPU time per mail; and, as
the baseline, how many mails a second one SMTP connection hands to the bare sink and to
the development catcher with nothing else running.
"""

import contextlib
import os
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from aiosmtpd.controller import Controller
from celery import Celery

from bench.cpu import clock_ticks, process_tree
from bench.database import AUTH, NOTIFIER, TASKS
from bench.progress import say
from bench.report import ScenarioReport
from bench.services import (
    RABBITMQ_URL,
    RESULTS,
    ServiceError,
    run_python_module,
    spawn,
    start_notifier_worker,
    uvicorn_service,
)
from devsupport.network import free_port
from devsupport.processes import stop_process
from devsupport.rabbitmq import ensure_rabbitmq_vhost, purge_queues
from scripts.mail_catcher import MailSink
from tracker_contracts.internal import MAX_SUMMARY_USERS
from tracker_contracts.messaging import DIGEST_TASK, NOTIFIER_TICK_QUEUE, NOTIFIER_WORKER_QUEUES
from tracker_notifier.config import Settings as NotifierSettings
from tracker_notifier.digest.summaries import SummariesClient
from tracker_notifier.mail.kinds import Digest, RenderContext
from tracker_notifier.mail.messages import compose, new_message_id
from tracker_runtime.database import libpq_dsn
from tracker_runtime.kombu_topology import TICK_QUEUE

NAME = "digest"
USERS = int(os.environ.get("BENCH_DIGEST_USERS", "100000"))
TASKS_PER_USER = 20
CONCURRENCY = int(os.environ.get("BENCH_DIGEST_CONCURRENCY", "2"))
AT = datetime(2026, 11, 24, 0, 1, tzinfo=UTC)
DAY_START = datetime(2026, 11, 23, tzinfo=UTC)
ZONES = ("UTC", "Europe/London", "Europe/Lisbon", "Africa/Abidjan", "Atlantic/Reykjavik")
"""Zones at UTC+0 in November: one window, several zones, as a real night has."""
AUTH_DATABASE_URL = AUTH.url
TASKS_DATABASE_URL = TASKS.url
NOTIFIER_DATABASE_URL = NOTIFIER.url
TIMEOUT_S = 1800
SMTP_SERVER = os.environ.get("BENCH_DIGEST_SMTP", "sink")
"""``sink``: a bare aiosmtpd server in this process; ``catcher``: the development catcher."""
SMTP_BASELINE_MAILS = 2000
GOALS = {
    "total_s_below": 120,
    "total_s_floor": 300,
    "peak_memory_mb_below": 200,
    "peak_memory_mb_floor": 300,
    "summaries_users_per_s_at_least": 2000,
}
"""For 100,000 users; with fewer, the times shrink in proportion."""

# Deterministic ids shared by both databases: md5('bench-user-N')::uuid.
USER_ID = "md5('bench-user-' || n)::uuid"
RECIPIENTS_SQL = f"""
INSERT INTO recipients (user_id, email, timezone, digest_enabled, email_verified, updated_at)
SELECT {USER_ID}, 'bench-' || n || '@example.com', (%(zones)s::text[])[1 + n %% %(zone_count)s],
       true, true, now()
FROM generate_series(1, %(users)s) AS n
"""
# Per user: 3 tasks completed during the day, 5 completed on earlier days, 12 open, of
# which 3 are overdue (one due on the day itself), 2 due the next day (one at 09:00), 2 due
# later and 5 undated.
TASKS_SQL = f"""
INSERT INTO tasks (id, owner_id, title, description, status, completed_at, created_at, updated_at,
                   due_date, due_time)
SELECT gen_random_uuid(), {USER_ID}, 'Task ' || t || ' of user ' || n, '',
       CASE WHEN t <= 8 THEN 'done' ELSE 'open' END,
       CASE WHEN t <= 3 THEN %(day)s + t * interval '5 hours'
            WHEN t <= 8 THEN %(day)s - t * interval '1 day' END,
       %(day)s - interval '30 days' + t * interval '1 minute',
       %(day)s - interval '30 days' + t * interval '1 minute',
       CASE WHEN t BETWEEN 9 AND 15 THEN %(day)s::date + (t - 11) END,
       CASE WHEN t = 12 THEN time '09:00' END
FROM generate_series(1, %(users)s) AS n, generate_series(1, {TASKS_PER_USER}) AS t
"""
DATED_PER_USER = 7


def _scalar(url: str, query: str) -> int:
    with psycopg.connect(libpq_dsn(url)) as connection:
        row = connection.execute(query).fetchone()
        return int(row[0]) if row else 0


def _generate() -> None:
    """Users and tasks straight into the databases, unless an earlier run left them."""
    recipients = _scalar(NOTIFIER_DATABASE_URL, "SELECT count(*) FROM recipients")
    tasks = _scalar(TASKS_DATABASE_URL, "SELECT count(*) FROM tasks")
    dated = _scalar(TASKS_DATABASE_URL, "SELECT count(due_date) FROM tasks")
    if (recipients, tasks, dated) == (USERS, USERS * TASKS_PER_USER, USERS * DATED_PER_USER):
        say(f"digest: reusing {USERS} users and {tasks} tasks from an earlier run")
        return
    parameters = {"users": USERS, "zones": list(ZONES), "zone_count": len(ZONES), "day": DAY_START}
    started = time.monotonic()
    with psycopg.connect(libpq_dsn(NOTIFIER_DATABASE_URL)) as connection:
        connection.execute("TRUNCATE recipients CASCADE")
        connection.execute(RECIPIENTS_SQL, parameters)
        connection.execute("ANALYZE recipients")
    say(f"digest: {USERS} recipients generated; generating {USERS * TASKS_PER_USER} tasks")
    with psycopg.connect(libpq_dsn(TASKS_DATABASE_URL), autocommit=True) as connection:
        connection.execute("TRUNCATE tasks")
        connection.execute(TASKS_SQL, parameters)
        connection.execute("VACUUM ANALYZE tasks")
    say(f"digest: data generated in {time.monotonic() - started:.0f} s")


def _sample(pid: int, cpu_ticks: dict[int, int]) -> tuple[int, int]:
    """Of ``pid`` and all its descendants: the summed proportional set size (PSS, which
    splits pages shared after ``fork`` between the processes sharing them, so the sum is
    what they really hold) and the largest resident set of one process, both in KiB; notes
    each one's CPU time so far in ``cpu_ticks``."""
    pss = largest = 0
    for current in process_tree(pid):
        ticks = clock_ticks(current)
        try:
            rollup = Path(f"/proc/{current}/smaps_rollup").read_text()
        except OSError:
            continue
        if ticks is not None:
            cpu_ticks[current] = ticks
        for line in rollup.splitlines():
            name, _, value = line.partition(":")
            if name == "Pss":
                pss += int(value.split()[0])
            elif name == "Rss":
                largest = max(largest, int(value.split()[0]))
    return pss, largest


class MemorySampler(threading.Thread):
    """Samples a process tree every 0.2 s: its peak memory and its CPU time."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_pss_kib = 0
        self.peak_rss_kib = 0
        self._cpu_ticks: dict[int, int] = {}
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(0.2):
            pss, rss = _sample(self.pid, self._cpu_ticks)
            self.peak_pss_kib = max(self.peak_pss_kib, pss)
            self.peak_rss_kib = max(self.peak_rss_kib, rss)

    def cpu_seconds(self) -> float:
        """CPU time of the tree's processes as last sampled (pool processes that exited
        count up to their last sample)."""
        return sum(self._cpu_ticks.values()) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


class SmtpServer:
    """The server the notifier sends the digest to: the bare sink or the catcher."""

    def __init__(self, environment: dict[str, str], port: int) -> None:
        self.sink = MailSink()
        self._controller: Controller | None = None
        self._catcher: subprocess.Popen[bytes] | None = None
        if SMTP_SERVER == "catcher":
            self._catcher = _start_catcher(environment, port)
        else:
            self._controller = Controller(self.sink, hostname="127.0.0.1", port=port)
            self._controller.start()

    def accepted(self, mail_dir: Path) -> int:
        if self._catcher is None:
            return self.sink.accepted
        return sum(1 for _ in mail_dir.glob("*.eml")) if mail_dir.exists() else 0

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
        if self._catcher is not None:
            stop_process(self._catcher, timeout=20)


def _start_catcher(environment: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    catcher = spawn(
        [sys.executable, "scripts/mail_catcher.py"],
        {**environment, "MAIL_CATCHER_PORT": str(port)},
        RESULTS / "digest-mail-catcher.log",
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return catcher
        time.sleep(0.1)
    stop_process(catcher)
    raise ServiceError(f"the mail catcher did not listen on {port}")


def _sample_mail() -> bytes:
    """A digest mail as the notifier sends it."""
    settings = NotifierSettings()
    digest = Digest(
        day=DAY_START.date(),
        timezone="UTC",
        completed_count=3,
        completed_titles=tuple(f"Task {t} of user 1" for t in range(1, 4)),
        open_count=12,
        open_titles=tuple(f"Task {t} of user 1" for t in range(9, 14)),
    )
    context = RenderContext("bench-1@example.com", settings.public_url, settings.public_url)
    message = compose(
        digest.render(context),
        sender=settings.mail_from_address,
        to="bench-1@example.com",
        message_id=new_message_id(settings.mail_from_address),
    )
    return message.as_bytes(policy=message.policy.clone(linesep="\r\n"))


def _send_rate(port: int, data: bytes) -> float:
    """Mails per second one connection hands to the server on ``port``."""
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        smtp.ehlo()
        started = time.monotonic()
        for _ in range(SMTP_BASELINE_MAILS):
            smtp.sendmail("tracker@example.com", ["bench-1@example.com"], data)
        return SMTP_BASELINE_MAILS / (time.monotonic() - started)


def _smtp_baselines(environment: dict[str, str]) -> dict[str, float]:
    """Mails per second over one connection to the bare sink (in this process, beside the
    client) and to the development catcher (a process of its own), nothing else running."""
    data = _sample_mail()
    port = free_port()
    controller = Controller(MailSink(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        sink = _send_rate(port, data)
    finally:
        controller.stop()
    with tempfile.TemporaryDirectory(prefix="bench-digest-catcher-") as directory:
        port = free_port()
        catcher = _start_catcher({**environment, "MAIL_CATCHER_DIR": directory}, port)
        try:
            caught = _send_rate(port, data)
        finally:
            stop_process(catcher, timeout=20)
    return {"bare_sink_mails_per_s": round(sink), "catcher_mails_per_s": round(caught)}


def _summaries_alone(settings: NotifierSettings) -> float:
    """Users per second through the summaries API, batches of 500, one after the other."""
    with psycopg.connect(libpq_dsn(NOTIFIER_DATABASE_URL)) as connection:
        ids = [row[0] for row in connection.execute("SELECT user_id FROM recipients")]
    client = SummariesClient(settings)
    try:
        day = DAY_START.date()
        client.fetch(ids[:10], start=DAY_START, end=AT, day=day, titles=10)  # token, connection
        started = time.monotonic()
        for index in range(0, len(ids), MAX_SUMMARY_USERS):
            batch = ids[index : index + MAX_SUMMARY_USERS]
            client.fetch(batch, start=DAY_START, end=AT, day=day, titles=10)
        return len(ids) / (time.monotonic() - started)
    finally:
        client.close()


def send_digest_tick(broker_url: str, at: datetime) -> None:
    """The digest task for the instant ``at`` by name, as the scheduler's beat sends it,
    through the broker at ``broker_url``."""
    app = Celery("bench", broker=broker_url)
    app.conf.broker_transport_options = {"confirm_publish": True}
    try:
        app.send_task(
            DIGEST_TASK,
            kwargs={"at": at.isoformat()},
            queue=TICK_QUEUE,
            exchange=TICK_QUEUE.exchange,
            routing_key=NOTIFIER_TICK_QUEUE,
        )
    finally:
        app.close()


def _progress() -> tuple[int, int]:
    with psycopg.connect(libpq_dsn(NOTIFIER_DATABASE_URL)) as connection:
        row = connection.execute(
            "SELECT (SELECT count(*) FROM digest_claims),"
            " (SELECT count(*) FROM deliveries WHERE status = 'sent')"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def _wait_for_the_mails(started: float) -> tuple[int, int, float | None]:
    """Claimed users, mails sent, and when the last user was claimed (seconds)."""
    claimed = sent = 0
    claimed_after = None
    last_said = 0.0
    while time.monotonic() - started < TIMEOUT_S:
        claimed, sent = _progress()
        if claimed >= USERS and claimed_after is None:
            claimed_after = time.monotonic() - started
        if sent >= USERS:
            break
        if time.monotonic() - last_said > 15:
            say(f"digest: {claimed} users claimed, {sent} mails sent")
            last_said = time.monotonic()
        time.sleep(0.5)
    return claimed, sent, claimed_after


def _claim_seconds() -> float:
    with psycopg.connect(libpq_dsn(NOTIFIER_DATABASE_URL)) as connection:
        row = connection.execute(
            "SELECT extract(epoch FROM max(claimed_at) - min(claimed_at)) FROM digest_claims"
        ).fetchone()
    return float(row[0]) if row and row[0] is not None else 0.0


def run() -> ScenarioReport:
    ensure_rabbitmq_vhost(RABBITMQ_URL)
    smtp_port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-digest-") as scratch:
        mail_dir = Path(scratch) / "mail"
        environment = {
            "ENVIRONMENT": "development",
            "LOG_LEVEL": "WARNING",
            "RABBITMQ_URL": RABBITMQ_URL,
            "AUTH_DATABASE_URL": AUTH_DATABASE_URL,
            "AUTH_DEVELOPMENT_KEYS_DIR": str(Path(scratch) / "keys"),
            "AUTH_SERVICE_CLIENTS": (
                '{"notifier": {"secret": "dev-notifier-secret", "scopes": ["tasks:summaries"]}}'
            ),
            "TASKS_DATABASE_URL": TASKS_DATABASE_URL,
            "NOTIFIER_DATABASE_URL": NOTIFIER_DATABASE_URL,
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(smtp_port),
            "MAIL_CATCHER_PORT": str(smtp_port),
            "MAIL_CATCHER_DIR": str(mail_dir),
        }
        say("digest: preparing the auth, tasks and notifier bench databases")
        for service in ("tracker_auth", "tracker_tasks", "tracker_notifier"):
            run_python_module(f"{service}.prestart", environment)
        _generate()
        with psycopg.connect(libpq_dsn(NOTIFIER_DATABASE_URL)) as connection:
            connection.execute("TRUNCATE digest_claims, deliveries RESTART IDENTITY")
        purge_queues(RABBITMQ_URL, list(NOTIFIER_WORKER_QUEUES))

        with (
            uvicorn_service("digest-auth", "tracker_auth.main:create_app", environment) as auth,
            uvicorn_service(
                "digest-tasks",
                "tracker_tasks.main:create_app",
                {**environment, "TASKS_JWKS_URL": auth.url("/.well-known/jwks.json")},
            ) as tasks,
        ):
            environment["NOTIFIER_TASKS_URL"] = tasks.base_url
            environment["NOTIFIER_AUTH_URL"] = auth.base_url
            settings = NotifierSettings.model_validate(
                {"tasks_url": tasks.base_url, "auth_url": auth.base_url}
            )
            say(f"digest: the summaries API alone, {USERS} users in batches of 500")
            summaries_rate = _summaries_alone(settings)
            say(f"digest: {summaries_rate:.0f} users/s through the summaries API")

            server = SmtpServer(environment, smtp_port)
            worker = start_notifier_worker(
                environment,
                RESULTS / "digest-worker.log",
                concurrency=CONCURRENCY,
                name="notifier-digest-bench",
            )
            sampler = MemorySampler(worker.pid)
            sampler.start()
            try:
                time.sleep(3)  # the worker connects and declares its queues
                say(f"digest: sending the digest task for {AT.isoformat()}")
                started = time.monotonic()
                cpu_before = sampler.cpu_seconds()
                send_digest_tick(RABBITMQ_URL, AT)
                claimed, sent, claimed_after = _wait_for_the_mails(started)
                total = time.monotonic() - started
                cpu = sampler.cpu_seconds() - cpu_before
            finally:
                sampler.stop()
                stop_process(worker, timeout=20)
                server.stop()
        caught = server.accepted(mail_dir)
        say("digest: the SMTP servers alone, one connection each")
        baseline = _smtp_baselines(environment)

    claim_seconds = _claim_seconds()
    claim_rate = claimed / claim_seconds if claim_seconds else 0.0
    where = "development mail catcher" if SMTP_SERVER == "catcher" else "bare SMTP sink"
    peak_mb = sampler.peak_pss_kib / 1024
    largest_mb = sampler.peak_rss_kib / 1024
    met = {
        "total": sent >= USERS and total < GOALS["total_s_below"] * USERS / 100_000,
        "total floor": sent >= USERS and total < GOALS["total_s_floor"] * USERS / 100_000,
        "memory": peak_mb < GOALS["peak_memory_mb_below"],
        "memory floor": peak_mb < GOALS["peak_memory_mb_floor"],
        "summaries": summaries_rate >= GOALS["summaries_users_per_s_at_least"],
    }
    figures = {
        "users": USERS,
        "tasks": USERS * TASKS_PER_USER,
        "total_s": round(total, 1),
        "claimed": claimed,
        "mails_sent": sent,
        "mails_accepted_by_smtp": caught,
        "claim_phase_s": round(claimed_after or 0.0, 1),
        "claimed_users_per_s": round(claim_rate),
        "summaries_api_users_per_s": round(summaries_rate),
        "mails_per_s": round(sent / total, 1) if total else 0.0,
        "notifier_peak_pss_mb": round(peak_mb, 1),
        "notifier_largest_process_rss_mb": round(largest_mb, 1),
        "notifier_cpu_s": round(cpu, 1),
        "notifier_cpu_ms_per_mail": round(1000 * cpu / sent, 2) if sent else 0.0,
        **baseline,
        "goals": GOALS,
        "met": met,
    }
    return ScenarioReport(
        name=NAME,
        title=f"one digest run: {USERS} users, {TASKS_PER_USER} tasks each, into the {where}",
        figures=figures,
        settings={
            "worker_concurrency": CONCURRENCY,
            "smtp_server": SMTP_SERVER,
            "at": AT.isoformat(),
            "zones": ZONES,
        },
        notes=[
            f"total {total:.1f} s for {sent} mails ({figures['mails_per_s']} mails/s); "
            f"{caught} accepted by the {where}",
            f"claims: {claimed} users in {claim_seconds:.1f} s ({claim_rate:.0f} users/s, "
            "one summaries call per 500)",
            f"summaries API alone: {summaries_rate:.0f} users/s",
            f"notifier peak memory: {peak_mb:.0f} MB PSS over the main process and its "
            f"children; largest single process RSS {largest_mb:.0f} MB",
            f"notifier CPU: {cpu:.1f} s, {figures['notifier_cpu_ms_per_mail']} ms per mail",
            f"SMTP servers alone, one connection: bare sink {baseline['bare_sink_mails_per_s']} "
            f"mails/s, development catcher {baseline['catcher_mails_per_s']} mails/s",
            "goals: "
            + ", ".join(f"{name} {'met' if ok else 'missed'}" for name, ok in met.items()),
        ],
    )
