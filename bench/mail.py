"""From a registration's commit to its welcome mail being accepted by the SMTP server.

A steady 50 registrations per second go to a real auth service; its relay publishes
``user.registered``, a real notifier worker (Celery) consumes it and sends the mail over
SMTP to a catcher in this process, which notes when it accepted each one. The latency of a
mail is its acceptance time minus the user's ``created_at`` in auth's database; it is split
into its stages by the times the databases keep: the relay (commit to the outbox row's
``published_at``), the way to the notifier's task (to the delivery's ``created_at``, the
start of the task's transaction) and the sending (to the mail's acceptance). Beside them,
the CPU each registration and its mail cost the notifier worker (its main process, its pool), auth
(with its relay) and PostgreSQL, read from /proc: on two cores, 50 a second must fit in
what the three leave each other.

Password hashing is set cheaper here (it is not part of the measured path, and at full
cost 50 registrations per second would take most of this machine's two cores from the
worker being measured); the output says so.
"""

import asyncio
import os
import statistics
import time
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx

from bench.cpu import cpu_since, postgres_cpu, tree_cpu
from bench.database import AUTH, NOTIFIER
from bench.progress import say
from bench.report import ScenarioReport, percentile
from bench.services import ServiceError, mailing_stack, uvicorn_service
from devsupport.accounts import AccountError, register
from scripts.mail_catcher import MailCatcher
from tracker_runtime.database import libpq_dsn

NAME = "mail"
RATE = int(os.environ.get("BENCH_MAIL_RATE", "50"))
SECONDS = int(os.environ.get("BENCH_MAIL_SECONDS", "20"))
WARM_UP_SECONDS = 3
"""First, as long at the same rate, not counted: the services' first requests and tasks
(connections, caches, compiled statements) would otherwise count as the steady rate's
tail. Their figures are printed apart."""
GOAL_P99_S = 0.1
FLOOR_P99_S = 0.25
CONCURRENCY = int(os.environ.get("BENCH_MAIL_CONCURRENCY", "2"))


class TimingCatcher(MailCatcher):
    def __init__(self) -> None:
        super().__init__(None)
        self.accepted: dict[str, float] = {}

    def received(self, recipients: list[str], content: bytes, session: Any) -> None:
        now = time.time()
        for recipient in recipients:
            self.accepted.setdefault(recipient, now)


async def _register_steadily(base_url: str, phase: str, seconds: int) -> tuple[list[str], float]:
    """POST /api/user at RATE per second for ``seconds``; the emails and the achieved rate."""
    emails = [f"mail-{phase}-{n}@example.com" for n in range(RATE * seconds)]
    failures: list[str] = []
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:

        async def register_one(email: str) -> None:
            try:
                await register(client, email, "bench-password-123")
            except AccountError as error:
                failures.append(f"{email}: {error}")

        started = time.monotonic()
        pending = []
        for number, email in enumerate(emails):
            await asyncio.sleep(max(0.0, started + number / RATE - time.monotonic()))
            pending.append(asyncio.create_task(register_one(email)))
        await asyncio.gather(*pending)
        elapsed = time.monotonic() - started
    if failures:
        raise ServiceError(f"{len(failures)} registrations failed, e.g. {failures[:3]}")
    return emails, len(emails) / elapsed


async def _times(url: str, query: str, emails: list[str]) -> dict[str, tuple[float, ...]]:
    connection = await asyncpg.connect(libpq_dsn(url))
    try:
        rows = await connection.fetch(query, emails)
    finally:
        await connection.close()
    return {row[0]: tuple(float(value) for value in row[1:]) for row in rows}


COMMITTED_SQL = """
SELECT u.email, extract(epoch FROM u.created_at), extract(epoch FROM o.published_at)
FROM users u JOIN outbox o
  ON o.event_type = 'user.registered' AND o.payload -> 'data' ->> 'user_id' = u.id::text
WHERE u.email = ANY($1) AND o.published_at IS NOT NULL
"""
STORED_SQL = """
SELECT to_address, extract(epoch FROM created_at)
FROM deliveries WHERE kind = 'welcome' AND to_address = ANY($1)
"""


def _cpu(worker_pid: int, auth_pid: int) -> dict[str, dict[int, float]]:
    """CPU seconds so far of the worker's main process and of its pool processes, auth's
    and PostgreSQL's, by pid."""
    worker = tree_cpu(worker_pid)
    main = {worker_pid: worker.pop(worker_pid, 0.0)}
    return {
        "worker_main": main,
        "worker_pool": worker,
        "auth": tree_cpu(auth_pid),
        "postgres": postgres_cpu(),
    }


def _stage(name: str, spans: list[float]) -> dict[str, float]:
    return {
        f"{name}_p50_ms": round(percentile(spans, 0.50) * 1000, 1),
        f"{name}_p99_ms": round(percentile(spans, 0.99) * 1000, 1),
    }


def _stages(
    emails: list[str], accepted: dict[str, float]
) -> tuple[dict[str, float], dict[str, float]]:
    """Each mail's creation time, and the p50/p99 of each stage of its way."""
    committed = asyncio.run(_times(AUTH.url, COMMITTED_SQL, emails))
    stored = asyncio.run(_times(NOTIFIER.url, STORED_SQL, emails))
    ways = [
        (*committed[email], *stored[email], accepted[email])
        for email in emails
        if email in committed and email in stored and email in accepted
    ]
    stages = {
        **_stage("relay", [published - created for created, published, _, _ in ways]),
        **_stage("to_task", [task - published for _, published, task, _ in ways]),
        **_stage("send", [sent - task for _, _, task, sent in ways]),
    }
    return {email: times[0] for email, times in committed.items()}, stages


@dataclass(frozen=True)
class Phase:
    """The registrations of one phase and how long their mails took, in seconds."""

    emails: list[str]
    rate_per_s: float
    latencies: list[float]
    stages: dict[str, float]

    @property
    def missing(self) -> int:
        return len(self.emails) - len(self.latencies)

    def p(self, fraction: float) -> float:
        return percentile(self.latencies, fraction)


def _phase(base_url: str, catcher: TimingCatcher, name: str, seconds: int) -> Phase:
    emails, achieved = asyncio.run(_register_steadily(base_url, name, seconds))
    deadline = time.monotonic() + 60
    while any(email not in catcher.accepted for email in emails) and time.monotonic() < deadline:
        time.sleep(0.2)
    created, stages = _stages(emails, catcher.accepted)
    latencies = [catcher.accepted[e] - created[e] for e in emails if e in catcher.accepted]
    return Phase(emails, achieved, latencies, stages)


def run() -> ScenarioReport:
    catcher = TimingCatcher()
    with (
        mailing_stack(NAME, catcher, [AUTH, NOTIFIER], concurrency=CONCURRENCY) as stack,
        uvicorn_service("mail-auth", "tracker_auth.main:create_app", stack.environment) as auth,
    ):
        say(f"mail: warming up, {RATE} registrations per second for {WARM_UP_SECONDS} s")
        warm_up = _phase(auth.base_url, catcher, "warm-up", WARM_UP_SECONDS)
        say(f"mail: {RATE} registrations per second for {SECONDS} s")
        before = _cpu(stack.worker_pid, auth.pid)
        measured = _phase(auth.base_url, catcher, "bench", SECONDS)
        cpu_ms = {
            name: round(cpu_since(before[name], now) * 1000 / len(measured.emails), 2)
            for name, now in _cpu(stack.worker_pid, auth.pid).items()
        }

    emails, latencies, stages = measured.emails, measured.latencies, measured.stages
    missing = measured.missing
    achieved, p50, p99 = measured.rate_per_s, measured.p(0.50), measured.p(0.99)
    met = p99 < GOAL_P99_S and missing == 0
    floor_met = p99 < FLOOR_P99_S and missing == 0
    warm_up_figures = {
        "registrations": len(warm_up.emails),
        "mails_missing_after_60_s": warm_up.missing,
        "latency_p50_ms": round(warm_up.p(0.50) * 1000, 1),
        "latency_p99_ms": round(warm_up.p(0.99) * 1000, 1),
    }
    figures = {
        "registrations": len(emails),
        "registrations_per_s": round(achieved, 1),
        "mails_accepted": len(latencies),
        "mails_missing_after_60_s": missing,
        "latency_p50_ms": round(p50 * 1000, 1),
        "latency_p99_ms": round(p99 * 1000, 1),
        "latency_max_ms": round(max(latencies) * 1000, 1),
        "latency_mean_ms": round(statistics.fmean(latencies) * 1000, 1),
        **stages,
        "cpu_ms_per_mail": cpu_ms,
        "warm_up": warm_up_figures,
        "goal": {"p99_below_s": GOAL_P99_S, "met": met},
        "floor": {"p99_below_s": FLOOR_P99_S, "met": floor_met},
    }
    return ScenarioReport(
        name=NAME,
        title="registration commit to welcome mail accepted by SMTP",
        figures=figures,
        settings={
            "rate_per_s": RATE,
            "seconds": SECONDS,
            "warm_up_seconds": WARM_UP_SECONDS,
            "password_hashing": "argon2id m=8 MiB t=1 (cheaper than production on purpose)",
            "worker_concurrency": CONCURRENCY,
        },
        notes=[
            f"warm-up (just started, not counted): {len(warm_up.emails)} registrations, "
            f"p50 {warm_up_figures['latency_p50_ms']} ms, "
            f"p99 {warm_up_figures['latency_p99_ms']} ms",
            f"{len(emails)} registrations at {achieved:.1f}/s; {len(latencies)} mails accepted"
            + (f", {missing} missing" if missing else ""),
            f"commit -> mail accepted: p50 {figures['latency_p50_ms']} ms, "
            f"p99 {figures['latency_p99_ms']} ms, max {figures['latency_max_ms']} ms",
            "stages, p50/p99 ms: relay (commit -> published) "
            f"{stages['relay_p50_ms']}/{stages['relay_p99_ms']}, to the notifier's task "
            f"{stages['to_task_p50_ms']}/{stages['to_task_p99_ms']}, sending "
            f"{stages['send_p50_ms']}/{stages['send_p99_ms']}",
            "CPU per registration and its mail, ms: the notifier worker's main process "
            f"{cpu_ms['worker_main']} and its pool {cpu_ms['worker_pool']}, auth (with its "
            f"relay) {cpu_ms['auth']}, PostgreSQL {cpu_ms['postgres']}",
            f"floor (p99 < {FLOOR_P99_S * 1000:.0f} ms): "
            + ("met" if floor_met else "missed")
            + f"; goal (p99 < {GOAL_P99_S * 1000:.0f} ms): "
            + ("met" if met else "missed"),
        ],
    )
