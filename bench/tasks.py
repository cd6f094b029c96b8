"""The tasks API beside the limit of its stack: list (50 tasks), create and update.

A real auth and tasks service (one uvicorn process each) and, under the same uvicorn, the
bare endpoints of ``bench.bare_tasks`` (the same SELECT, INSERT and UPDATE with their
outbox rows, one asyncpg pool, no framework beyond Starlette) on the same database, all
behind one nginx rendered as ``make dev`` renders the gateway (``bench.gateway``).

``wrk -t1 -c32`` drives each request kind straight at the processes and through the
gateway, service and bare alternated over ``ROUNDS`` rounds; then the list at a steady
``STEADY_RATE`` requests per second through the gateway. Printed: throughput, p50/p99,
the CPU each request cost the serving process and PostgreSQL, and the ratio service/bare
(1.0 would be the stack's limit). With ``profile`` (``make bench tasks PROFILE=1``), py-spy
records the service during the last round's direct runs and the scenario prints where the
time went (``bench.profile``); the stacks stay in ``bench/results/tasks-<kind>.stacks``.
"""

import asyncio
import os
import statistics
import tempfile
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench import profile as profiler
from bench.cpu import CpuSample, postgres_cpu, postgres_cpu_since
from bench.database import AUTH, TASKS, truncate
from bench.gateway import gateway
from bench.progress import say
from bench.report import Measurement, ScenarioReport
from bench.services import (
    RABBITMQ_URL,
    RESULTS,
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
STEADY_RATE = 200
STEADY_CONNECTIONS = 64
"""Enough that one is free whenever a request falls due (open loop, see request.lua)."""
REQUEST_SCRIPT = Path(__file__).with_name("request.lua")
BODY = '{"title": "Water the plants"}'
KINDS = ("list", "create", "update")
ROUTES = ("direct", "gateway")
PROFILED_PARTS = {
    "dependency solving": "solve_dependencies",
    "the caller (token, revocation)": "current_user",
    "token verification": "access_claims",
    "revocation check": "is_revoked",
    "database session and commit": "session_per_request",
    "SQLAlchemy": "sqlalchemy/",
    "asyncpg": "asyncpg/",
    "response serialisation": "serialize_response",
    "middleware": "middleware",
    "garbage collection": "<gc>",
}
"""Parts of a request a profile is summed over (a frame containing the text counts)."""


@dataclass(frozen=True)
class Run:
    """One wrk run and what it cost: CPU milliseconds per request of the serving process
    and of PostgreSQL."""

    result: WrkResult
    process_ms: float | None
    postgres_ms: float | None


@dataclass(frozen=True)
class Prepared:
    token: str
    owner: str
    task_ids: list[str]


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


async def _prepare(auth: Service, tasks: Service) -> Prepared:
    """A user with LIST_SIZE open tasks."""
    async with httpx.AsyncClient(base_url=auth.base_url, timeout=30) as client:
        account = await register(client, "tasks-bench@example.com", "bench-password-123")
    task_ids = []
    async with httpx.AsyncClient(base_url=tasks.base_url, timeout=30) as client:
        for number in range(LIST_SIZE):
            created = await client.post(
                "/api/tasks", json={"title": f"Task {number}"}, headers=account.headers
            )
            created.raise_for_status()
            task_ids.append(created.json()["id"])
    return Prepared(account.access_token, account.id, task_ids)


def _load(
    base_url: str,
    paths: list[str],
    *,
    method: str = "GET",
    token: str | None = None,
    body: str | None = None,
    connections: int = CONNECTIONS,
    rate: int = 0,
) -> WrkLoad:
    arguments = [f"method={method}", f"paths={','.join(paths)}"]
    if token is not None:
        arguments.append(f"token={token}")
    if body is not None:
        arguments.append(f"body={body}")
    if rate:
        arguments.append(f"rate={rate}")
    return WrkLoad(
        base_url + paths[0],
        connections=connections,
        duration_s=SECONDS,
        script=REQUEST_SCRIPT,
        script_args=arguments,
    )


Loads = dict[str, tuple[WrkLoad, WrkLoad]]
"""By kind: the service's load and the bare one."""


def _loads(service_url: str, bare_url: str, prepared: Prepared, **options: Any) -> Loads:
    owner, token = prepared.owner, prepared.token
    return {
        "list": (
            _load(
                service_url, [f"/api/tasks?status=open&limit={LIST_SIZE}"], token=token, **options
            ),
            _load(bare_url, [f"/bare/tasks?owner={owner}"], **options),
        ),
        "create": (
            _load(service_url, ["/api/tasks"], method="POST", token=token, body=BODY, **options),
            _load(bare_url, [f"/bare/tasks?owner={owner}"], method="POST", body=BODY, **options),
        ),
        "update": (
            _load(
                service_url,
                [f"/api/tasks/{task_id}" for task_id in prepared.task_ids],
                method="PATCH",
                token=token,
                body=BODY,
                **options,
            ),
            _load(
                bare_url,
                [f"/bare/tasks/{task_id}?owner={owner}" for task_id in prepared.task_ids],
                method="PATCH",
                body=BODY,
                **options,
            ),
        ),
    }


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


def _note(name: str, f: dict[str, Any]) -> str:
    return (
        f"{name}: {f['service_rps']} req/s vs {f['bare_rps']} bare (ratio {f['ratio']}); "
        f"p50/p99 {f['service_p50_ms']}/{f['service_p99_ms']} ms vs "
        f"{f['bare_p50_ms']}/{f['bare_p99_ms']} ms; CPU per request "
        f"{f['service_cpu_ms_per_request']} ms vs {f['bare_cpu_ms_per_request']} ms, "
        f"PostgreSQL {f['service_postgres_cpu_ms_per_request']} ms vs "
        f"{f['bare_postgres_cpu_ms_per_request']} ms"
        + (f"; {f['service_errors']} errors" if f["service_errors"] else "")
    )


def _profile_notes(kind: str, stacks: Path) -> list[str]:
    samples, hotspots = profiler.summary(stacks, top=12)
    parts = profiler.inclusive(stacks, PROFILED_PARTS)
    lines = [f"profile of {kind} ({samples} samples, {stacks.name}), inclusive:"]
    lines += [f"  {share:6.1%}  {label}" for label, share in parts.items() if share]
    lines.append(f"profile of {kind}, the functions with most self time (self, inclusive):")
    lines += [
        f"  {spot.self_share:6.1%} {spot.inclusive_share:6.1%}  {spot.function}"
        for spot in hotspots
    ]
    return lines


class Rounds:
    """The runs of the scenario: each pair of loads alternated, their measurements kept."""

    def __init__(self) -> None:
        self.runs: dict[str, tuple[list[Run], list[Run]]] = {}
        self.measurements: list[Measurement] = []

    def pair(
        self,
        name: str,
        loads: tuple[WrkLoad, WrkLoad],
        pids: tuple[int, int],
        label: str,
        profile_into: Path | None = None,
    ) -> None:
        """Run the service's load, then the bare one; with ``profile_into``, py-spy
        records the service during its run."""
        service_runs, bare_runs = self.runs.setdefault(name, ([], []))
        for side, load, pid, into in (
            ("service", loads[0], pids[0], service_runs),
            ("bare", loads[1], pids[1], bare_runs),
        ):
            recording = side == "service" and profile_into is not None
            with Recording(pid, profile_into) if recording else nullcontext():
                measured = _measure(load, f"{name} {side}", pid)
            into.append(measured)
            key = f"{name}_{side}_{len(into)}".replace(" ", "_")
            self.measurements.append(
                Measurement(key, f"{name}, {side}, {label}", load, measured.result)
            )


class Recording:
    """py-spy around one run (a context manager), its stacks kept in ``into``."""

    def __init__(self, pid: int, into: Path | None) -> None:
        assert into is not None
        self.pid, self.into = pid, into

    def __enter__(self) -> None:
        self._process = profiler.start(self.pid, SECONDS - 1, self.into)

    def __exit__(self, *_: object) -> None:
        profiler.finish(self._process)


def run(profile: bool = False) -> ScenarioReport:
    ensure_rabbitmq_vhost(RABBITMQ_URL)
    with tempfile.TemporaryDirectory(prefix="bench-tasks-") as keys_dir:
        environment = {
            **registering_environment(keys_dir, free_port()),
            AUTH.variable: AUTH.url,
            TASKS.variable: TASKS.url,
            "AUTH_ACCESS_TOKEN_TTL": "PT1H",
            "BENCH_BARE_DATABASE_URL": TASKS.url,
        }
        say("tasks: preparing the auth and tasks bench databases")
        for database in (AUTH, TASKS):
            run_python_module(f"{database.service}.prestart", environment)
            truncate(database.url, database.metadata)
        rounds = Rounds()
        profiles: list[str] = []
        with (
            uvicorn_service("tasks-auth", "tracker_auth.main:create_app", environment) as auth,
            uvicorn_service(
                "tasks-service",
                "tracker_tasks.main:create_app",
                {**environment, "TASKS_JWKS_URL": auth.url("/.well-known/jwks.json")},
            ) as tasks,
            uvicorn_service("tasks-bare", "bench.bare_tasks:create_app", environment) as bare,
            gateway(_host(auth), _host(tasks), _host(bare)) as nginx,
        ):
            prepared = asyncio.run(_prepare(auth, tasks))
            pids = (tasks.pid, bare.pid)
            routes = {
                "direct": _loads(tasks.base_url, bare.base_url, prepared),
                "gateway": _loads(nginx.url, nginx.bare_url, prepared),
            }
            for number in range(1, ROUNDS + 1):
                for kind in KINDS:
                    for route in ROUTES:
                        say(f"tasks: round {number}/{ROUNDS}, {kind} {route}: service, bare")
                        stacks = RESULTS / f"tasks-{kind}.stacks"
                        record = profile and route == "direct" and number == ROUNDS
                        rounds.pair(
                            f"{kind} {route}",
                            routes[route][kind],
                            pids,
                            f"round {number}",
                            stacks if record else None,
                        )
                        if record:
                            profiles += _profile_notes(kind, stacks)
            steady = _loads(
                nginx.url,
                nginx.bare_url,
                prepared,
                connections=STEADY_CONNECTIONS,
                rate=STEADY_RATE,
            )["list"]
            for number in range(1, ROUNDS + 1):
                say(f"tasks: list at a steady {STEADY_RATE}/s through the gateway, {number}")
                rounds.pair("list steady", steady, pids, f"{STEADY_RATE}/s, round {number}")
        purge_queues(RABBITMQ_URL, [queue.name for queue in CONSUMER_QUEUES])

    figures = {name: _figures(*pair) for name, pair in rounds.runs.items()}
    return ScenarioReport(
        name=NAME,
        title="the tasks API beside bare asyncpg endpoints (list of 50, create, update)",
        measurements=rounds.measurements,
        figures=figures,
        settings={
            "connections": CONNECTIONS,
            "seconds": SECONDS,
            "rounds": ROUNDS,
            "steady_rate_per_s": STEADY_RATE,
            "steady_connections": STEADY_CONNECTIONS,
            "profiled": profile,
        },
        notes=[_note(name, f) for name, f in figures.items()] + profiles,
    )


def _host(service: Service) -> str:
    return service.base_url.removeprefix("http://")
