"""Reminders on time: 10,000 reminders falling due within one minute, across 1,000 people.

The notifier's bench database gets 1,000 confirmed recipients with reminders on and 10,000
reminders (straight into the projection, as ``task.*`` events would leave it), due evenly
over one minute starting about half a minute from now. Two notifier workers (Celery) and
the scheduler's beat (``SCHEDULER_REMINDER_INTERVAL``, 10 s by default) then run as in
production, sending over SMTP to a catcher in this process, which notes when it accepted
each mail. The lateness of a mail is its acceptance time minus its reminder's instant.
Figures: lateness p50, p99 and max, mails sent twice, mails missing, and the workers' peak
memory (PSS of both, pool processes included).
"""

import os
import re
import statistics
import tempfile
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from aiosmtpd.controller import Controller

from bench.database import NOTIFIER, truncate
from bench.digest import MemorySampler
from bench.progress import say
from bench.report import ScenarioReport
from bench.services import RESULTS, run_python_module, spawn, start_notifier_worker, tail
from devsupport.database import import_models
from devsupport.network import free_port
from devsupport.processes import stop_process
from devsupport.rabbitmq import ensure_rabbitmq_vhost, purge_queues
from scripts.mail_catcher import MailCatcher
from tracker_contracts.messaging import NOTIFIER_EVENTS, NOTIFIER_WORKER_QUEUES
from tracker_notifier.config import Settings as NotifierSettings
from tracker_notifier.db import Base as NotifierBase
from tracker_runtime.database import libpq_dsn

NAME = "reminders"
USERS = int(os.environ.get("BENCH_REMINDERS_USERS", "1000"))
REMINDERS = int(os.environ.get("BENCH_REMINDERS_COUNT", "10000"))
SPREAD_S = 60.0
LEAD_S = float(os.environ.get("BENCH_REMINDERS_LEAD_S", "30"))
"""Seconds from seeding to the first reminder: time for the workers and beat to start."""
CONCURRENCY = int(
    os.environ.get(
        "BENCH_REMINDERS_CONCURRENCY", NotifierSettings.model_fields["concurrency"].default
    )
)
"""Pool processes per worker: ``NOTIFIER_CONCURRENCY``'s default unless set."""
WORKERS = 2
SETTLE_S = 15.0
"""Seconds waited after the last mail, for duplicates to show up if there were any."""
TIMEOUT_S = 300.0
GOAL_P99_S = 5.0
FLOOR_S = 60.0
NOTIFIER_DATABASE_URL = NOTIFIER.url
RABBITMQ_URL = "amqp://guest:guest@localhost:5672/tracker-bench"
import_models("tracker_notifier")

SEED_RECIPIENTS = """
INSERT INTO recipients (user_id, email, timezone, digest_enabled, reminders_enabled,
                        email_verified, updated_at)
SELECT md5('reminders-bench-user-' || n)::uuid, 'reminders-bench-' || n || '@example.com',
       'Europe/Berlin', false, true, true, now()
FROM generate_series(0, %(users)s - 1) AS n
"""
SEED_REMINDERS = """
INSERT INTO reminders (task_id, user_id, title, due_date, due_time, remind_at, status,
                       version, task_updated_at, fire_at)
SELECT md5('reminders-bench-task-' || n)::uuid,
       md5('reminders-bench-user-' || (n %% %(users)s))::uuid,
       'r' || n, current_date + 1, '09:00', at, 'open', 1, now(), at
FROM (
    SELECT n, %(start)s::timestamptz + n * %(step)s * interval '1 second' AS at
    FROM generate_series(0, %(count)s - 1) AS n
) AS due
"""


SUBJECT = re.compile(rb"^Subject: (Reminder: r[0-9]+)\r?$", re.MULTILINE)
"""The subject of a bench reminder (ASCII, never folded): found without parsing the mail,
so that the catcher in this process takes as little of the machine as it can."""


class TimingCatcher(MailCatcher):
    """Notes when each mail (by its subject, "Reminder: r<n>") was accepted."""

    def __init__(self) -> None:
        super().__init__(None)
        self.lock = threading.Lock()
        self.accepted: dict[str, list[float]] = defaultdict(list)

    def received(self, recipients: list[str], content: bytes, session: Any) -> None:
        now = time.time()
        found = SUBJECT.search(content)
        subject = found.group(1).decode() if found else "(no subject)"
        with self.lock:
            self.accepted[subject].append(now)

    def count(self) -> int:
        with self.lock:
            return len(self.accepted)


def _seed(start: datetime, step: float) -> None:
    with psycopg.connect(libpq_dsn(NOTIFIER_DATABASE_URL)) as connection:
        connection.execute(SEED_RECIPIENTS, {"users": USERS})
        connection.execute(
            SEED_REMINDERS, {"users": USERS, "start": start, "step": step, "count": REMINDERS}
        )


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _stored_lateness() -> list[float]:
    """Seconds from each reminder's instant to its mail being stored (the tick that fired
    it): the trigger's own lateness, without the wait for a sender."""
    with psycopg.connect(libpq_dsn(NOTIFIER_DATABASE_URL)) as connection:
        rows = connection.execute(
            "SELECT extract(epoch FROM created_at - (payload->>'remind_at')::timestamptz) "
            "FROM deliveries WHERE kind = 'reminder'"
        ).fetchall()
    return [float(row[0]) for row in rows]


def _skipped() -> dict[str, int]:
    with psycopg.connect(libpq_dsn(NOTIFIER_DATABASE_URL)) as connection:
        rows = connection.execute("SELECT reason, count FROM reminder_skips").fetchall()
    return {str(reason): int(count) for reason, count in rows}


def _figures(
    accepted: dict[str, list[float]], due: dict[str, float], peak_mb: float
) -> tuple[dict[str, Any], list[str]]:
    lateness = [min(accepted[s]) - at for s, at in due.items() if s in accepted]
    early = sum(1 for value in lateness if value < 0)
    twice = sum(1 for s in due if len(accepted.get(s, [])) > 1)
    missing = sum(1 for s in due if s not in accepted)
    strangers = sorted(set(accepted) - set(due))[:3]
    p50, p99 = _percentile(lateness, 0.50), _percentile(lateness, 0.99)
    fired = _stored_lateness() or [0.0]
    met = p99 < GOAL_P99_S and missing == 0 and twice == 0 and early == 0
    figures = {
        "reminders": REMINDERS,
        "users": USERS,
        "mails_accepted": len(lateness),
        "mails_missing": missing,
        "mails_sent_twice": twice,
        "mails_before_their_instant": early,
        "lateness_p50_ms": round(p50 * 1000, 1),
        "lateness_p99_ms": round(p99 * 1000, 1),
        "lateness_max_ms": round(max(lateness) * 1000, 1),
        "lateness_mean_ms": round(statistics.fmean(lateness) * 1000, 1),
        "fired_lateness_p50_ms": round(_percentile(fired, 0.50) * 1000, 1),
        "fired_lateness_p99_ms": round(_percentile(fired, 0.99) * 1000, 1),
        "fired_lateness_max_ms": round(max(fired) * 1000, 1),
        "workers_peak_pss_mb": round(peak_mb, 1),
        "skipped": _skipped(),
        "goal": {"p99_below_s": GOAL_P99_S, "floor_s": FLOOR_S, "met": met},
    }
    return figures, strangers


def run() -> ScenarioReport:
    ensure_rabbitmq_vhost(RABBITMQ_URL)
    catcher = TimingCatcher()
    smtp_port = free_port()
    environment = {
        "ENVIRONMENT": "development",
        "LOG_LEVEL": "WARNING",
        "RABBITMQ_URL": RABBITMQ_URL,
        "NOTIFIER_DATABASE_URL": NOTIFIER_DATABASE_URL,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_port),
        "SCHEDULER_DIGEST_CRON": "0 0 1 1 *",  # reminders only
    }
    say("reminders: preparing the notifier bench database")
    run_python_module("tracker_notifier.prestart", environment)
    truncate(NOTIFIER_DATABASE_URL, NotifierBase.metadata)
    purge_queues(RABBITMQ_URL, [NOTIFIER_EVENTS.name, *NOTIFIER_WORKER_QUEUES])
    step = SPREAD_S / REMINDERS
    start = datetime.now(UTC) + timedelta(seconds=LEAD_S)
    say(f"reminders: seeding {USERS} people and {REMINDERS} reminders due over {SPREAD_S:.0f} s")
    _seed(start, step)
    due = {f"Reminder: r{n}": start.timestamp() + n * step for n in range(REMINDERS)}

    controller = Controller(catcher, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    RESULTS.mkdir(parents=True, exist_ok=True)
    logs = [RESULTS / f"reminders-worker{number}.log" for number in range(WORKERS)]
    workers = [
        start_notifier_worker(
            environment,
            logs[number],
            concurrency=CONCURRENCY,
            name=f"notifier-bench-{number}",
        )
        for number in range(WORKERS)
    ]
    samplers = [MemorySampler(worker.pid) for worker in workers]
    for sampler in samplers:
        sampler.start()
    with tempfile.TemporaryDirectory(prefix="bench-reminders-") as beat_dir:
        beat = spawn(
            ["python", "-m", "celery", "-A", "tracker_scheduler.beat", "beat"],
            {**environment, "SCHEDULER_DATA_DIR": beat_dir, "SCHEDULER_METRICS_PORT": "0"},
            RESULTS / "reminders-beat.log",
        )
        try:
            deadline = time.monotonic() + LEAD_S + SPREAD_S + TIMEOUT_S
            reported = 0
            while catcher.count() < REMINDERS and time.monotonic() < deadline:
                time.sleep(0.5)
                if catcher.count() - reported >= 2000:
                    reported = catcher.count()
                    say(f"reminders: {reported} mails accepted")
                for worker, log in zip(workers, logs, strict=True):
                    if worker.poll() is not None:
                        raise RuntimeError(f"a worker exited:\n{tail(log)}")
            say(f"reminders: {catcher.count()} mails; waiting {SETTLE_S:.0f} s for duplicates")
            time.sleep(SETTLE_S)
        finally:
            stop_process(beat, timeout=20)
            for worker in workers:
                stop_process(worker, timeout=30)
            for sampler in samplers:
                sampler.stop()
            controller.stop()

    with catcher.lock:
        accepted = {subject: list(times) for subject, times in catcher.accepted.items()}
    peak_mb = sum(sampler.peak_pss_kib for sampler in samplers) / 1024
    figures, strangers = _figures(accepted, due, peak_mb)
    lateness_count, missing, twice, early, met = (
        figures["mails_accepted"],
        figures["mails_missing"],
        figures["mails_sent_twice"],
        figures["mails_before_their_instant"],
        figures["goal"]["met"],
    )
    return ScenarioReport(
        name=NAME,
        title="reminder instant to reminder mail accepted by SMTP",
        figures=figures,
        settings={
            "workers": WORKERS,
            "worker_concurrency": CONCURRENCY,
            "spread_s": SPREAD_S,
            "reminder_interval_s": float(os.environ.get("SCHEDULER_REMINDER_INTERVAL", "10")),
        },
        notes=[
            f"{REMINDERS} reminders over {SPREAD_S:.0f} s for {USERS} people: "
            f"{lateness_count} mails, {missing} missing, {twice} sent twice, {early} early"
            + (f"; unexpected subjects {strangers}" if strangers else ""),
            f"instant -> mail accepted: p50 {figures['lateness_p50_ms']} ms, "
            f"p99 {figures['lateness_p99_ms']} ms, max {figures['lateness_max_ms']} ms",
            f"instant -> mail stored by the tick that fired it (before any sender): "
            f"p50 {figures['fired_lateness_p50_ms']} ms, p99 {figures['fired_lateness_p99_ms']} ms",
            f"two workers' peak memory (PSS): {figures['workers_peak_pss_mb']} MB",
            f"goal (p99 < {GOAL_P99_S:.0f} s, none missing or twice): "
            + ("goal met" if met else "goal missed"),
        ],
    )
