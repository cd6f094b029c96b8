"""The tasks API beside the limit of its stack: list (50 tasks) and create, at saturation.

A real auth and tasks service (one uvicorn process each) and, under the same uvicorn, the
bare endpoints of ``bench.bare_tasks`` (the same SELECT, and the same INSERTs in one
transaction, with one asyncpg pool and no framework beyond Starlette) on the same
database. ``wrk -t1 -c32`` drives each in turn, service and bare alternated over
``ROUNDS`` rounds, and the scenario prints throughput, p50/p99, the CPU each request cost
the serving process and PostgreSQL, and the ratio service/bare (1.0 would be the stack's
limit). The requests go straight to the processes; through the gateway is still to come.
"""

import asyncio
import os
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.cpu import CpuSample, postgres_cpu, postgres_cpu_since
from bench.database import AUTH, TASKS, truncate
from bench.progress import say
from bench.report import Measurement, ScenarioReport
from bench.services import (
    RABBITMQ_URL,
    Service,
    registering_environment,
    run_python_module,
    uvicorn_service,
)
from bench.wrk import WrkLoad, WrkResult, run_wrk
from devsupport.accounts import register
from devsupport.network import free_port
from devsupport.rabbitmq import ensure_rabbitmq_vhost, purge_queues
from tracker_contracts.messaging import CONSUMER_QUEUES

NAME = "tasks"
LIST_SIZE = 50
CONNECTIONS = 32
SECONDS = int(os.environ.get("BENCH_TASKS_SECONDS", "10"))
ROUNDS = int(os.environ.get("BENCH_TASKS_ROUNDS", "2"))
REQUEST_SCRIPT = Path(__file__).with_name("request.lua")
CREATE_BODY = '{"title": "Water the plants"}'


@dataclass(frozen=True)
class Run:
    """One wrk run and what it cost: CPU milliseconds per request of the serving process
    and of PostgreSQL."""

    result: WrkResult
    process_ms: float | None
    postgres_ms: float | None


def _measure(load: WrkLoad, label: str, pid: int) -> Run:
    process_before, postgres_before = CpuSample.take(pid), postgres_cpu()
    result = run_wrk(load, label)
    process_after = CpuSample.take(pid)
    postgres_s = postgres_cpu_since(postgres_before)
    requests = result.requests or 1
    process_ms = (
        (process_after.cpu_s - process_before.cpu_s) * 1000 / requests
        if process_before and process_after
        else None
    )
    return Run(result, process_ms, postgres_s * 1000 / requests)


async def _prepare(auth: Service, tasks: Service) -> tuple[str, str]:
    """A user with LIST_SIZE open tasks: their access token and id."""
    async with httpx.AsyncClient(base_url=auth.base_url, timeout=30) as client:
        account = await register(client, "tasks-bench@example.com", "bench-password-123")
    async with httpx.AsyncClient(base_url=tasks.base_url, timeout=30) as client:
        for number in range(LIST_SIZE):
            created = await client.post(
                "/api/tasks", json={"title": f"Task {number}"}, headers=account.headers
            )
            created.raise_for_status()
    return account.access_token, account.id


def _load(url: str, method: str, token: str, body: str | None = None) -> WrkLoad:
    return WrkLoad(
        url,
        connections=CONNECTIONS,
        duration_s=SECONDS,
        script=REQUEST_SCRIPT,
        script_args=(method, token, *([body] if body else [])),
    )


def _median(values: list[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return round(statistics.median(present), 2) if present else None


def _figures(service: list[Run], bare: list[Run]) -> dict[str, float | None]:
    def rate(runs: list[Run]) -> float:
        return statistics.median(run.result.requests_per_s for run in runs)

    def p(runs: list[Run], name: str) -> float | None:
        return _median([run.result.percentile(name) for run in runs])

    return {
        "service_rps": round(rate(service), 1),
        "bare_rps": round(rate(bare), 1),
        "ratio": round(rate(service) / rate(bare), 3) if rate(bare) else None,
        "service_p50_ms": p(service, "50"),
        "service_p99_ms": p(service, "99"),
        "bare_p50_ms": p(bare, "50"),
        "bare_p99_ms": p(bare, "99"),
        "service_cpu_ms_per_request": _median([run.process_ms for run in service]),
        "bare_cpu_ms_per_request": _median([run.process_ms for run in bare]),
        "service_postgres_cpu_ms_per_request": _median([run.postgres_ms for run in service]),
        "bare_postgres_cpu_ms_per_request": _median([run.postgres_ms for run in bare]),
        "service_errors": sum(r.result.errors + r.result.non_2xx_3xx for r in service),
    }


def run() -> ScenarioReport:
    ensure_rabbitmq_vhost(RABBITMQ_URL)
    with tempfile.TemporaryDirectory(prefix="bench-tasks-") as keys_dir:
        environment = {
            **registering_environment(keys_dir, free_port()),
            AUTH.variable: AUTH.url,
            TASKS.variable: TASKS.url,
            "BENCH_BARE_DATABASE_URL": TASKS.url,
        }
        say("tasks: preparing the auth and tasks bench databases")
        for database in (AUTH, TASKS):
            run_python_module(f"{database.service}.prestart", environment)
            truncate(database.url, database.metadata)
        with (
            uvicorn_service("tasks-auth", "tracker_auth.main:create_app", environment) as auth,
            uvicorn_service(
                "tasks-service",
                "tracker_tasks.main:create_app",
                {**environment, "TASKS_JWKS_URL": auth.url("/.well-known/jwks.json")},
            ) as tasks,
            uvicorn_service("tasks-bare", "bench.bare_tasks:create_app", environment) as bare,
        ):
            token, owner = asyncio.run(_prepare(auth, tasks))
            pairs = {
                "list": (
                    _load(tasks.url(f"/api/tasks?status=open&limit={LIST_SIZE}"), "GET", token),
                    _load(bare.url(f"/bare/tasks?owner={owner}"), "GET", "-"),
                ),
                "create": (
                    _load(tasks.url("/api/tasks"), "POST", token, CREATE_BODY),
                    _load(bare.url(f"/bare/tasks?owner={owner}"), "POST", "-", CREATE_BODY),
                ),
            }
            runs: dict[str, tuple[list[Run], list[Run]]] = {k: ([], []) for k in pairs}
            measurements: list[Measurement] = []
            for round_number in range(1, ROUNDS + 1):
                for kind, (service_load, bare_load) in pairs.items():
                    say(f"tasks: round {round_number}/{ROUNDS}, {kind}: service, then bare")
                    for side, load, process, into in (
                        ("service", service_load, tasks, runs[kind][0]),
                        ("bare", bare_load, bare, runs[kind][1]),
                    ):
                        measured = _measure(load, f"{kind} {side}", process.pid)
                        into.append(measured)
                        measurements.append(
                            Measurement(
                                f"{kind}_{side}_{round_number}",
                                f"{kind}, {side}, round {round_number}",
                                load,
                                measured.result,
                            )
                        )
        purge_queues(RABBITMQ_URL, [queue.name for queue in CONSUMER_QUEUES])

    figures = {kind: _figures(*pair) for kind, pair in runs.items()}
    notes = [
        f"{kind}: {f['service_rps']} req/s vs {f['bare_rps']} bare (ratio {f['ratio']}); "
        f"p50/p99 {f['service_p50_ms']}/{f['service_p99_ms']} ms vs "
        f"{f['bare_p50_ms']}/{f['bare_p99_ms']} ms; CPU per request "
        f"{f['service_cpu_ms_per_request']} ms vs {f['bare_cpu_ms_per_request']} ms, "
        f"PostgreSQL {f['service_postgres_cpu_ms_per_request']} ms vs "
        f"{f['bare_postgres_cpu_ms_per_request']} ms"
        for kind, f in figures.items()
    ]
    return ScenarioReport(
        name=NAME,
        title="the tasks API beside bare asyncpg endpoints (list of 50, create), direct",
        measurements=measurements,
        figures=figures,
        settings={"connections": CONNECTIONS, "seconds": SECONDS, "rounds": ROUNDS},
        notes=notes,
    )
