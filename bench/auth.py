"""The auth service: how many logins per second, whether /healthz stays fast meanwhile,
and whether a storm of logins starves anything else.

Logging in verifies an argon2id hash, which costs tens of milliseconds of CPU. The service
runs it in a bounded thread pool; the project's goal is that /healthz p99 stays under
20 ms while logins saturate the service, which shows hashing never blocks the event loop.

Steps: migrate and empty the ``tracker_auth_bench`` database, start the service, register a
pool of users, measure /healthz alone (the baseline), then logins with wrk while a second
wrk measures /healthz. Then the storm: a tasks service beside it, its list requested at a
steady ``STORM_TASKS_RATE`` per second alone (the baseline), then again while
``STORM_LOGINS`` logins are in flight at once. A login hashes the password holding no
database connection, so the storm must leave the pool to the others (no 503) and the task
requests under ``STORM_TASKS_P99_GOAL_MS`` at p99.
"""

import asyncio
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.cpu import CpuSample
from bench.database import TASKS, truncate
from bench.progress import say
from bench.report import Measurement, ScenarioReport
from bench.services import RABBITMQ_URL, Service, run_python_module, uvicorn_service
from bench.wrk import WrkLoad, WrkResult, WrkRun, run_wrk
from devsupport.accounts import log_in, register
from devsupport.database import import_models
from devsupport.rabbitmq import ensure_rabbitmq_vhost, purge_queues
from tracker_auth.config import Settings
from tracker_auth.db import Base as AuthBase
from tracker_contracts.messaging import CONSUMER_QUEUES

NAME = "auth"
DATABASE_URL = os.environ.get(
    "BENCH_AUTH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/tracker_auth_bench"
)
import_models("tracker_auth")
LOGIN_SCRIPT = Path(__file__).with_name("login.lua")

POOL_SIZE = 50
EMAIL_TEMPLATE = "bench-user-%d@example.com"
PASSWORD = "bench-password-123"
REGISTRATION_CONCURRENCY = 4

BASELINE_SECONDS = 10
LOAD_SECONDS = 15
HEALTHZ_P99_GOAL_MS = 20.0

STORM_LOGINS = 200
STORM_SECONDS = 15
STORM_TASKS_CONNECTIONS = 10
STORM_TASKS_RATE = 50
"""The task list asked for 50 times a second on a fixed schedule (request.lua's ``rate``)."""
STORM_TASKS_P99_GOAL_MS = 100.0
LIST_SIZE = 50
REQUEST_SCRIPT = Path(__file__).with_name("request.lua")


def _email(index: int) -> str:
    return EMAIL_TEMPLATE % index


async def _register_pool(base_url: str) -> None:
    limit = asyncio.Semaphore(REGISTRATION_CONCURRENCY)

    async def register_one(client: httpx.AsyncClient, index: int) -> None:
        async with limit:
            await register(client, _email(index), PASSWORD)

    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        await asyncio.gather(*(register_one(client, index) for index in range(POOL_SIZE)))
        await log_in(client, _email(0), PASSWORD)  # a pool user can log in


def _effective_settings(environment: dict[str, str]) -> dict[str, object]:
    """The hashing settings the service runs with (the environment and .env, as it reads
    them), for the record."""
    settings = Settings.model_validate(
        {
            "database_url": environment["AUTH_DATABASE_URL"],
            "cookie_secure": False,
            "environment": environment["ENVIRONMENT"],
        }
    )
    return {
        "password_hashing_threads": settings.password_hashing_threads,
        "password_memory_cost_kib": settings.password_memory_cost_kib,
        "password_time_cost": settings.password_time_cost,
        "database_pool_size": settings.database_pool_size,
    }


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def _report(
    settings: dict[str, object],
    baseline: Measurement,
    logins: Measurement,
    health: Measurement,
    service_cores: float | None,
) -> ScenarioReport:
    login = logins.result
    succeeded = login.requests - login.non_2xx_3xx
    logins_per_s = succeeded / login.elapsed_s if login.elapsed_s else 0.0
    baseline_p99 = baseline.result.percentile("99")
    loaded_p99 = health.result.percentile("99")
    ratio = _ratio(loaded_p99, baseline_p99)
    goal_met = loaded_p99 is not None and loaded_p99 < HEALTHZ_P99_GOAL_MS
    figures: dict[str, object] = {
        "logins_per_s": round(logins_per_s, 2),
        "logins_succeeded": succeeded,
        "logins_non_2xx": login.non_2xx_3xx,
        "login_socket_errors": login.errors,
        "healthz_baseline_p99_ms": baseline_p99,
        "healthz_under_load_p50_ms": health.result.percentile("50"),
        "healthz_under_load_p99_ms": loaded_p99,
        "healthz_under_load_rps": health.result.requests_per_s,
        "healthz_p99_ratio_to_baseline": round(ratio, 2) if ratio is not None else None,
        "service_cpu_cores_under_load": (
            round(service_cores, 2) if service_cores is not None else None
        ),
        "goal": {"healthz_p99_under_load_below_ms": HEALTHZ_P99_GOAL_MS, "met": goal_met},
    }
    ratio_text = f"x{ratio:.1f}" if ratio is not None else "x?"
    cores_text = (
        f"; the service used {service_cores:.2f} CPU cores of {os.cpu_count()}"
        if service_cores is not None
        else ""
    )
    notes = [
        f"logins: {succeeded} succeeded, {login.non_2xx_3xx} non-2xx, {login.errors} socket "
        f"errors in {login.elapsed_s:.1f} s = {logins_per_s:.1f} logins/s{cores_text}",
        f"/healthz p99 under login load: {_fmt(loaded_p99)} ms vs {_fmt(baseline_p99)} ms "
        f"alone ({ratio_text}); p50 {_fmt(health.result.percentile('50'))} ms, "
        f"{health.result.requests_per_s:.0f} req/s",
        f"goal (/healthz p99 < {HEALTHZ_P99_GOAL_MS:.0f} ms while logins saturate): "
        + ("goal met" if goal_met else "goal missed"),
    ]
    return ScenarioReport(
        name=NAME,
        title="logins per second, /healthz while they saturate auth, and a login storm",
        measurements=[baseline, logins, health],
        figures=figures,
        settings=settings,
        notes=notes,
    )


def _fmt(value: float | None) -> str:
    return "?" if value is None else f"{value:.2f}"


def _measure_under_load(
    login_load: WrkLoad, health_load: WrkLoad, pid: int
) -> tuple[WrkResult, WrkResult, float | None]:
    with WrkRun(login_load) as logins, WrkRun(health_load) as health:
        before = CpuSample.take(pid)
        logins.wait("logins + /healthz")
        after = CpuSample.take(pid)
        return logins.result(), health.result(), after.cores_since(before) if after else None


async def _tasks_token(auth: Service, tasks: Service) -> str:
    """A pool user's access token, with LIST_SIZE tasks to list."""
    async with httpx.AsyncClient(base_url=auth.base_url, timeout=30) as client:
        account = await log_in(client, _email(POOL_SIZE - 1), PASSWORD)
    async with httpx.AsyncClient(base_url=tasks.base_url, timeout=30) as client:
        for number in range(LIST_SIZE):
            created = await client.post(
                "/api/tasks", json={"title": f"Task {number}"}, headers=account.headers
            )
            created.raise_for_status()
    return account.access_token


def _storm(auth: Service, environment: dict[str, str]) -> tuple[Measurement, ...]:
    """The task list at a steady rate alone, then during STORM_LOGINS concurrent logins."""
    say("auth: storm: preparing the tasks bench database and service")
    tasks_environment = {**environment, TASKS.variable: TASKS.url}
    run_python_module("tracker_tasks.prestart", tasks_environment)
    truncate(TASKS.url, TASKS.metadata)
    with uvicorn_service(
        "auth-storm-tasks",
        "tracker_tasks.main:create_app",
        {**tasks_environment, "TASKS_JWKS_URL": auth.url("/.well-known/jwks.json")},
    ) as tasks:
        token = asyncio.run(_tasks_token(auth, tasks))
        list_load = WrkLoad(
            tasks.url(f"/api/tasks?status=open&limit={LIST_SIZE}"),
            connections=STORM_TASKS_CONNECTIONS,
            duration_s=STORM_SECONDS,
            script=REQUEST_SCRIPT,
            script_args=("method=GET", f"token={token}", f"rate={STORM_TASKS_RATE}"),
        )
        say(f"auth: storm: the task list at {STORM_TASKS_RATE}/s alone for {STORM_SECONDS} s")
        alone = run_wrk(list_load, "task list alone")
        storm_load = WrkLoad(
            auth.url("/api/session"),
            connections=STORM_LOGINS,
            duration_s=STORM_SECONDS,
            timeout_s=30,
            script=LOGIN_SCRIPT,
            script_args=(EMAIL_TEMPLATE, str(POOL_SIZE), PASSWORD),
        )
        say(f"auth: storm: {STORM_LOGINS} concurrent logins with the task list alongside")
        with WrkRun(storm_load) as logins, WrkRun(list_load) as listing:
            logins.wait("login storm + task list")
            storm, during = logins.result(), listing.result()
    return (
        Measurement("tasks_alone", f"GET /api/tasks at {STORM_TASKS_RATE}/s", list_load, alone),
        Measurement("storm", f"{STORM_LOGINS} concurrent logins", storm_load, storm),
        Measurement("tasks_during_storm", "GET /api/tasks during the storm", list_load, during),
    )


def _storm_figures(alone: Measurement, storm: Measurement, during: Measurement) -> dict[str, Any]:
    p99 = during.result.percentile("99")
    return {
        "logins_in_flight": STORM_LOGINS,
        "logins_per_s": round(storm.result.requests_per_s, 2),
        "logins_non_2xx": storm.result.non_2xx_3xx,
        "login_socket_errors": storm.result.errors,
        "login_p99_ms": storm.result.percentile("99"),
        "tasks_rate_per_s": STORM_TASKS_RATE,
        "tasks_alone_p99_ms": alone.result.percentile("99"),
        "tasks_during_p50_ms": during.result.percentile("50"),
        "tasks_during_p99_ms": p99,
        "tasks_during_non_2xx": during.result.non_2xx_3xx,
        "goal": {
            "tasks_p99_during_storm_below_ms": STORM_TASKS_P99_GOAL_MS,
            "met": p99 is not None and p99 < STORM_TASKS_P99_GOAL_MS,
        },
    }


def run() -> ScenarioReport:
    with tempfile.TemporaryDirectory(prefix="bench-auth-") as keys_dir:
        environment = {
            "AUTH_DATABASE_URL": DATABASE_URL,
            "AUTH_COOKIE_SECURE": "false",
            "AUTH_DEVELOPMENT_KEYS_DIR": keys_dir,
            "AUTH_REGISTRATIONS_PER_IP": "1000000",  # every user comes from this machine
            # and so does every login: 200 in flight would pass the per-address budget of
            # failed logins (each is counted before its hash), and be refused with a 429.
            "AUTH_LOGIN_MAX_FAILURES_PER_IP": "1000000",
            "LOG_LEVEL": "WARNING",
            "ENVIRONMENT": "development",
            "RABBITMQ_URL": RABBITMQ_URL,
        }
        ensure_rabbitmq_vhost(RABBITMQ_URL)
        settings = _effective_settings(environment)
        say(f"auth: migrating the bench database ({DATABASE_URL.rsplit('/', 1)[-1]})")
        run_python_module("tracker_auth.prestart", environment)
        truncate(DATABASE_URL, AuthBase.metadata)

        with uvicorn_service(NAME, "tracker_auth.main:create_app", environment) as service:
            say(f"auth: registering {POOL_SIZE} users")
            started = time.monotonic()
            asyncio.run(_register_pool(service.base_url))
            say(f"auth: registered {POOL_SIZE} users in {time.monotonic() - started:.1f} s")

            healthz = service.url("/healthz")
            baseline_load = WrkLoad(healthz, connections=8, duration_s=BASELINE_SECONDS)
            say(f"auth: baseline, GET /healthz alone for {BASELINE_SECONDS} s")
            baseline = run_wrk(baseline_load, "baseline")

            login_load = WrkLoad(
                service.url("/api/session"),
                connections=16,
                duration_s=LOAD_SECONDS,
                script=LOGIN_SCRIPT,
                script_args=(EMAIL_TEMPLATE, str(POOL_SIZE), PASSWORD),
            )
            health_load = WrkLoad(healthz, connections=4, duration_s=LOAD_SECONDS)
            say(f"auth: logins with GET /healthz alongside for {LOAD_SECONDS} s")
            login_result, health_result, cores = _measure_under_load(
                login_load, health_load, service.pid
            )
            storm = _storm(service, environment)
        purge_queues(RABBITMQ_URL, [queue.name for queue in CONSUMER_QUEUES])

    report = _report(
        settings,
        Measurement("healthz_baseline", "GET /healthz alone", baseline_load, baseline),
        Measurement("logins", "POST /api/session (login)", login_load, login_result),
        Measurement("healthz_under_load", "GET /healthz during logins", health_load, health_result),
        cores,
    )
    storm_figures = _storm_figures(*storm)
    report.measurements += storm
    report.figures["storm"] = storm_figures
    report.notes += [
        f"storm: {STORM_LOGINS} logins in flight, {storm_figures['logins_per_s']} logins/s, "
        f"{storm_figures['logins_non_2xx']} non-2xx (a 503 would be a pool run dry)",
        f"task list at {STORM_TASKS_RATE}/s during the storm: p99 "
        f"{_fmt(storm_figures['tasks_during_p99_ms'])} ms vs "
        f"{_fmt(storm_figures['tasks_alone_p99_ms'])} ms alone; goal (< "
        f"{STORM_TASKS_P99_GOAL_MS:.0f} ms): "
        + ("goal met" if storm_figures["goal"]["met"] else "goal missed"),
    ]
    return report
