"""Start a service under uvicorn on a free port, wait until it answers, always stop it;
and what the scenarios that register and mail people run it beside."""

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

import devsupport.processes
from bench.database import BenchDatabase, truncate
from bench.progress import say
from devsupport.network import free_port, wait_until_healthy
from devsupport.processes import notifier_worker_command, stop_process
from devsupport.rabbitmq import consumers, ensure_rabbitmq_vhost, purge_queues
from tracker_contracts.messaging import NOTIFIER_EVENTS, NOTIFIER_WORKER_QUEUES, TASKS_EVENTS

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
RABBITMQ_URL = "amqp://guest:guest@localhost:5672/tracker-bench"
"""The benchmarks' own virtual host."""


class ServiceError(RuntimeError):
    """The service did not start, or a preparation step failed."""


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def run_python_module(module: str, environment: Mapping[str, str]) -> None:
    """``python -m MODULE`` with the benchmark's interpreter, e.g. a service's prestart."""
    completed = subprocess.run(
        [sys.executable, "-m", module],
        env={**os.environ, **environment},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise ServiceError(
            f"python -m {module} failed ({completed.returncode}):\n"
            f"{completed.stdout}{completed.stderr}"
        )


@dataclass(frozen=True)
class Service:
    name: str
    base_url: str
    pid: int
    log: Path

    def url(self, path: str) -> str:
        return self.base_url + path


def spawn(command: list[str], environment: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start ``command`` from the repository root in its own session (so Ctrl-C reaches
    only the benchmark, which stops it), its output going to ``log``."""
    return devsupport.processes.spawn(
        command, log=log, environment={**os.environ, **environment}, cwd=ROOT
    )


@contextmanager
def uvicorn_service(
    name: str,
    app_factory: str,
    environment: Mapping[str, str],
    *,
    health_path: str = "/healthz",
    startup_timeout_s: float = 60.0,
) -> Iterator[Service]:
    """Run ``uvicorn --factory APP_FACTORY`` (one process, no access log) on a free port.

    The process runs in its own session, so Ctrl-C reaches only the benchmark, which then
    stops it here (:func:`devsupport.processes.stop_process`). Its output goes to
    ``bench/results/<name>-service.log``.
    """
    port = free_port()
    RESULTS.mkdir(parents=True, exist_ok=True)
    log = RESULTS / f"{name}-service.log"
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        app_factory,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
    ]
    process = spawn(command, environment, log)
    try:
        base_url = f"http://127.0.0.1:{port}"
        say(f"{name}: started uvicorn (pid {process.pid}) on port {port}; waiting for health")
        problem = wait_until_healthy(base_url + health_path, process, startup_timeout_s)
        if problem is not None:
            raise ServiceError(f"{name}: {problem}:\n{tail(log)}")
        yield Service(name=name, base_url=base_url, pid=process.pid, log=log)
    finally:
        stop_process(process)
        say(f"{name}: stopped uvicorn (pid {process.pid})")


WORKER_START_TIMEOUT_S = 60.0


def start_notifier_worker(
    environment: Mapping[str, str], log: Path, *, concurrency: int, name: str
) -> subprocess.Popen[bytes]:
    """The notifier's Celery worker as ``make dev`` runs it, in its own process group,
    without a metrics server (a bench runs several, maybe beside ``make dev``); returned
    once it consumes the events, so that no figure counts its start."""
    url = environment.get("NOTIFIER_RABBITMQ_URL") or environment.get("RABBITMQ_URL", RABBITMQ_URL)
    before = asyncio.run(consumers(url, NOTIFIER_EVENTS.name))
    worker = spawn(
        notifier_worker_command(concurrency=concurrency, name=f"{name}@%h"),
        {"NOTIFIER_METRICS_PORT": "0", **environment},
        log,
    )
    deadline = time.monotonic() + WORKER_START_TIMEOUT_S
    while asyncio.run(consumers(url, NOTIFIER_EVENTS.name)) <= before:
        if worker.poll() is not None or time.monotonic() > deadline:
            stop_process(worker, timeout=20)
            raise ServiceError(f"the notifier worker did not start consuming:\n{tail(log)}")
        time.sleep(0.2)
    return worker


def registering_environment(keys_dir: str, smtp_port: int) -> dict[str, str]:
    """What the scenarios that register users through auth and mail them share: quiet
    logs, the bench broker, cheap password hashing (hashing is not what they measure; the
    output says so) and no per-address registration limit (every user comes from here)."""
    return {
        "ENVIRONMENT": "development",
        "LOG_LEVEL": "WARNING",
        "RABBITMQ_URL": RABBITMQ_URL,
        "AUTH_COOKIE_SECURE": "false",
        "AUTH_DEVELOPMENT_KEYS_DIR": keys_dir,
        "AUTH_PASSWORD_MEMORY_COST_KIB": "8192",
        "AUTH_PASSWORD_TIME_COST": "1",
        "AUTH_REGISTRATIONS_PER_IP": "1000000",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_port),
    }


@dataclass(frozen=True)
class MailingStack:
    environment: dict[str, str]
    """What the services run with."""
    worker_pid: int
    """The notifier worker's main process (its pool processes are its children)."""


@contextmanager
def mailing_stack(
    scenario: str, catcher: Any, databases: Sequence[BenchDatabase], *, concurrency: int
) -> Iterator[MailingStack]:
    """What the scenarios that register people through auth and mail them run beside: the
    ``databases`` migrated and emptied, the consumers' queues empty, ``catcher`` (an
    aiosmtpd handler) serving SMTP on a free port, and a notifier worker with
    ``concurrency`` pool processes, consuming. Stops the worker and the SMTP server
    after."""
    ensure_rabbitmq_vhost(RABBITMQ_URL)
    smtp_port = free_port()
    with tempfile.TemporaryDirectory(prefix=f"bench-{scenario}-") as keys_dir:
        environment = {
            **registering_environment(keys_dir, smtp_port),
            **{database.variable: database.url for database in databases},
        }
        names = ", ".join(database.service for database in databases)
        say(f"{scenario}: preparing the bench databases of {names}")
        for database in databases:
            run_python_module(f"{database.service}.prestart", environment)
            truncate(database.url, database.metadata)
        purge_queues(
            RABBITMQ_URL, [NOTIFIER_EVENTS.name, *NOTIFIER_WORKER_QUEUES, TASKS_EVENTS.name]
        )
        controller = Controller(catcher, hostname="127.0.0.1", port=smtp_port)
        controller.start()
        worker = start_notifier_worker(
            environment,
            RESULTS / f"{scenario}-worker.log",
            concurrency=concurrency,
            name=f"{scenario}-bench",
        )
        try:
            yield MailingStack(environment, worker.pid)
        finally:
            stop_process(worker, timeout=20)
            controller.stop()
