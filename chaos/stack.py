"""The processes of a chaos run, as ``make dev`` starts them but several of each, and the
faults done to them.

Every process reaches RabbitMQ through a :class:`~tests.support.tcp_proxy.TcpProxy` of
this process, which :meth:`Stack.cut_broker` cuts; PostgreSQL is shared with everyone on
the machine, so its fault is ``pg_terminate_backend`` of the run's own databases only.
"""

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import asyncpg
from aiosmtpd.controller import Controller

from bench.database import BenchDatabase, truncate
from bench.progress import say
from bench.services import ROOT, ServiceError, registering_environment, run_python_module, tail
from chaos.mail import ChaosMailCatcher
from chaos.profile import Profile
from devsupport.network import free_port, wait_until_healthy
from devsupport.processes import notifier_worker_command, spawn, stop_process
from devsupport.rabbitmq import consumers, ensure_rabbitmq_vhost, purge_queues, rabbitmqctl
from tests.support.tcp_proxy import TcpProxy
from tracker_contracts.messaging import (
    CONSUMER_QUEUES,
    NOTIFIER_TASKS,
    NOTIFIER_TICK_QUEUE,
    NOTIFIER_TICKS,
)
from tracker_runtime.database import libpq_dsn
from tracker_runtime.settings import ENV_FILE_VARIABLE

POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
DRAINED_QUEUES = tuple(
    name
    for queue in (*CONSUMER_QUEUES, NOTIFIER_TASKS, NOTIFIER_TICKS)
    for name in (queue.name, queue.dead_letter_queue)
)
"""The durable queues that must be empty once the run is over, dead letters included."""
NEVER = "0 0 1 1 *"
"""A digest cron that does not fire during a run: the scenario chooses the instants."""
REMINDER_INTERVAL_S = 5
STARTUP_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Names:
    """Where a run keeps its data: a database per service and a RabbitMQ virtual host."""

    auth_database: str
    tasks_database: str
    notifier_database: str
    rabbitmq_url: str

    @property
    def databases(self) -> tuple[BenchDatabase, ...]:
        return (
            BenchDatabase("tracker_auth", "AUTH_DATABASE_URL", self.auth_database),
            BenchDatabase("tracker_tasks", "TASKS_DATABASE_URL", self.tasks_database),
            BenchDatabase("tracker_notifier", "NOTIFIER_DATABASE_URL", self.notifier_database),
        )

    @property
    def vhost(self) -> str:
        return unquote(urlsplit(self.rabbitmq_url).path.lstrip("/")) or "/"


CHAOS_NAMES = Names(
    auth_database="postgresql+asyncpg://postgres@127.0.0.1:5432/tracker_auth_chaos",
    tasks_database="postgresql+asyncpg://postgres@127.0.0.1:5432/tracker_tasks_chaos",
    notifier_database="postgresql+psycopg://postgres@127.0.0.1:5432/tracker_notifier_chaos",
    rabbitmq_url=f"amqp://guest:guest@127.0.0.1:5672/{quote('tracker-chaos', safe='')}",
)


@dataclass
class Replica:
    """One process of the stack, which the scenario may stop and start again."""

    name: str
    command: list[str]
    environment: dict[str, str]
    log: Path
    health_url: str | None = None
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = spawn(
            self.command,
            log=self.log,
            environment={**os.environ, **self.environment},
            cwd=ROOT,
            append=True,
        )

    def wait_until_healthy(self) -> None:
        assert self.process is not None
        if self.health_url is None:
            return
        problem = wait_until_healthy(self.health_url, self.process, STARTUP_TIMEOUT_S)
        if problem is not None:
            raise ServiceError(f"{self.name}: {problem}:\n{tail(self.log)}")

    def stop(self, timeout: float = 20) -> None:
        if self.process is not None:
            stop_process(self.process, timeout=timeout)

    def exited(self) -> bool:
        return self.process is not None and self.process.poll() is not None


@dataclass
class Fault:
    name: str
    started: float
    """``time.monotonic()``."""
    ended: float = 0.0
    detail: str = ""
    struck: bool = True
    """False when the fault could not be done (no batch to kill a worker in, say)."""


@dataclass
class Stack:
    names: Names
    profile: Profile
    workdir: Path
    catcher: ChaosMailCatcher = field(default_factory=ChaosMailCatcher)
    gateway_url: str = ""
    auth: list[Replica] = field(default_factory=list)
    tasks: list[Replica] = field(default_factory=list)
    workers: list[Replica] = field(default_factory=list)
    beats: list[Replica] = field(default_factory=list)
    gateway: Replica | None = None
    faults: list[Fault] = field(default_factory=list)
    proxy: TcpProxy | None = None

    @property
    def replicas(self) -> list[Replica]:
        gateway = [self.gateway] if self.gateway else []
        return [*gateway, *self.beats, *self.workers, *self.tasks, *self.auth]

    # -- starting and stopping ------------------------------------------------------------

    def _environment(self, smtp_port: int, broker_url: str) -> dict[str, str]:
        keys = self.workdir / "keys"
        return {
            **registering_environment(str(keys), smtp_port),
            **{database.variable: database.url for database in self.names.databases},
            ENV_FILE_VARIABLE: "",
            "RABBITMQ_URL": broker_url,
            "AUTH_SERVICE_CLIENTS": (
                '{"notifier": {"secret": "dev-notifier-secret", "scopes": ["tasks:summaries"]}}'
            ),
            "NOTIFIER_METRICS_PORT": "0",
            "SCHEDULER_METRICS_PORT": "0",
            "SCHEDULER_DIGEST_CRON": NEVER,
            "SCHEDULER_REMINDER_INTERVAL": str(REMINDER_INTERVAL_S),
            "NOTIFIER_HEARTBEAT_FILE": str(self.workdir / "notifier-heartbeat"),
        }

    def _prepare(self, environment: Mapping[str, str]) -> None:
        ensure_rabbitmq_vhost(self.names.rabbitmq_url)

        def migrated_and_empty(database: BenchDatabase) -> None:
            run_python_module(f"{database.service}.prestart", environment)
            truncate(database.url, database.metadata)

        with ThreadPoolExecutor(max_workers=len(self.names.databases)) as pool:
            list(pool.map(migrated_and_empty, self.names.databases))
        purge_queues(self.names.rabbitmq_url, list(DRAINED_QUEUES))

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator["Stack"]:
        """Everything started and healthy; stopped, whatever happens, when the block ends."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        broker = urlsplit(self.names.rabbitmq_url)
        self.proxy = TcpProxy(broker.hostname or "127.0.0.1", broker.port or 5672)
        await self.proxy.start()
        smtp_port = free_port()
        controller = Controller(self.catcher, hostname="127.0.0.1", port=smtp_port)
        controller.start()
        environment = self._environment(smtp_port, self.proxy.through(self.names.rabbitmq_url))
        try:
            say(f"chaos: preparing the databases and the virtual host {self.names.vhost}")
            await asyncio.to_thread(self._prepare, environment)
            await asyncio.to_thread(self._start, environment)
            yield self
        finally:
            say("chaos: stopping every process")
            self.catcher.release()
            await asyncio.to_thread(self._stop)
            await self.proxy.cut()
            controller.stop()

    def _start(self, environment: dict[str, str]) -> None:
        logs = self.workdir / "logs"
        shutil.rmtree(logs, ignore_errors=True)  # a replica started again appends to its log
        auth_ports, tasks_ports = [free_port(), free_port()], [free_port(), free_port()]
        auth_url, tasks_url = (
            f"http://127.0.0.1:{ports[0]}" for ports in (auth_ports, tasks_ports)
        )
        gateway_port = free_port()
        self.gateway_url = f"http://127.0.0.1:{gateway_port}"
        environment.update(
            PUBLIC_URL=f"http://localhost:{gateway_port}",
            TASKS_JWKS_URL=f"{auth_url}/.well-known/jwks.json",
            NOTIFIER_TASKS_URL=tasks_url,
            NOTIFIER_AUTH_URL=auth_url,
        )
        for service, ports, into in (
            ("auth", auth_ports, self.auth),
            ("tasks", tasks_ports, self.tasks),
        ):
            for number, port in enumerate(ports):
                into.append(
                    Replica(
                        f"{service}-{number}",
                        [sys.executable, "-m", f"tracker_{service}"],
                        {**environment, f"{service.upper()}_PORT": str(port)},
                        logs / f"{service}-{number}.log",
                        f"http://127.0.0.1:{port}/readyz",
                    )
                )
        for number in range(3):
            self.workers.append(
                Replica(
                    f"notifier-{number}",
                    notifier_worker_command(
                        concurrency=self.profile.worker_concurrency, name=f"chaos-{number}@%h"
                    ),
                    environment,
                    logs / f"notifier-{number}.log",
                )
            )
        for number in range(2):
            self.beats.append(
                Replica(
                    f"beat-{number}",
                    [sys.executable, "-m", "celery", "-A", "tracker_scheduler.beat", "beat"],
                    {**environment, "SCHEDULER_DATA_DIR": str(self.workdir / f"beat-{number}")},
                    logs / f"beat-{number}.log",
                )
            )
        static = self.workdir / "static"
        static.mkdir(exist_ok=True)
        (static / "index.html").write_text("<!doctype html><title>chaos</title>")
        self.gateway = Replica(
            "gateway",
            [sys.executable, "-m", "scripts.gateway"],
            {
                **environment,
                "GATEWAY_PORT": str(gateway_port),
                "GATEWAY_RUN_DIR": str(self.workdir / "gateway"),
                "STATIC_ROOT": str(static),
                "AUTH_UPSTREAM": ",".join(f"127.0.0.1:{port}" for port in auth_ports),
                "TASKS_UPSTREAM": ",".join(f"127.0.0.1:{port}" for port in tasks_ports),
            },
            logs / "gateway.log",
            f"{self.gateway_url}/index.html",
        )
        # The first auth process writes the development signing key the others read.
        first, *others = [*self.auth, *self.tasks, *self.workers, *self.beats, self.gateway]
        first.start()
        first.wait_until_healthy()
        for replica in others:
            replica.start()
        for replica in others:
            replica.wait_until_healthy()
        asyncio.run(self._wait_for_consumers(len(self.workers)))
        say("chaos: 2 auth, 2 tasks and the gateway answer, 3 notifier workers consume")

    async def _wait_for_consumers(self, count: int) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while await consumers(self.names.rabbitmq_url, NOTIFIER_TICK_QUEUE) < count:
            for worker in self.workers:
                if worker.exited():
                    raise ServiceError(f"{worker.name} exited:\n{tail(worker.log)}")
            if time.monotonic() > deadline:
                raise ServiceError("the notifier workers did not start consuming")
            await asyncio.sleep(0.5)

    def _stop(self) -> None:
        with ThreadPoolExecutor(max_workers=len(self.replicas) or 1) as pool:
            list(pool.map(Replica.stop, self.replicas))

    def dead(self) -> list[str]:
        """The processes that exited without being told to."""
        return [replica.name for replica in self.replicas if replica.exited()]

    # -- faults ---------------------------------------------------------------------------

    async def defer_mail(self, seconds: float) -> None:
        """The SMTP server answers 451 to every message for ``seconds``."""
        fault = self._begin("SMTP answers 4xx")
        before = self.catcher.deferred
        self.catcher.defer_for(seconds)
        await asyncio.sleep(seconds)
        deferred = self.catcher.deferred - before
        self._end(fault, f"{deferred} messages answered 451", struck=deferred > 0)

    async def cut_broker(self, seconds: float) -> None:
        """Every connection to RabbitMQ dropped, and none accepted, for ``seconds``."""
        assert self.proxy is not None
        fault = self._begin("broker cut")
        await self.proxy.cut()
        await asyncio.sleep(seconds)
        await self.proxy.start()
        self._end(fault, f"{seconds:.0f} s without RabbitMQ")

    async def restart_tasks(self, number: int) -> None:
        """A tasks replica stopped (SIGTERM, as a rolling update does) and started again."""
        replica = self.tasks[number]
        fault = self._begin(f"restart {replica.name}")
        started = time.monotonic()
        await asyncio.to_thread(replica.stop)
        stopped = time.monotonic()
        await asyncio.to_thread(replica.start)
        await asyncio.to_thread(replica.wait_until_healthy)
        self._end(
            fault,
            f"stopped in {stopped - started:.1f} s, ready again {time.monotonic() - stopped:.1f} s "
            "later",
        )

    async def kill_notifier_mid_batch(self, send_tick: Callable[[], None]) -> None:
        """SIGKILL the worker that is sending a digest batch, between two of its mails; then
        start it again. ``send_tick`` sends the digest tick that makes the batch."""
        fault = self._begin("SIGKILL notifier mid-batch")
        self.catcher.hold_a_batch(after_digests=1)
        await asyncio.to_thread(send_tick)
        held = await asyncio.to_thread(self.catcher.holding.wait, 120)
        if not held or self.catcher.held_peer is None:
            self.catcher.release()
            self._end(fault, "no batch was seen: nothing killed", struck=False)
            return
        owner = await asyncio.to_thread(connection_owner, self.catcher.held_peer)
        victim = next(
            (w for w in self.workers if w.process and owner and os.getpgid(owner) == w.process.pid),
            None,
        )
        if victim is None or victim.process is None:
            self.catcher.release()
            self._end(
                fault,
                f"the sender (pid {owner}) is no worker of ours: nothing killed",
                struck=False,
            )
            return
        sent = sum(
            1 for mail in self.catcher.snapshot() if mail.peer_port == self.catcher.held_peer
        )
        os.killpg(victim.process.pid, signal.SIGKILL)
        await asyncio.to_thread(victim.process.wait)
        self.catcher.release()
        await asyncio.to_thread(victim.start)
        self._end(fault, f"{victim.name} killed after {sent} mails of its connection; restarted")

    async def cut_database(self) -> None:
        """``pg_terminate_backend`` of every connection to the run's databases."""
        fault = self._begin("PostgreSQL connections terminated")
        names = [urlsplit(database.url).path.lstrip("/") for database in self.names.databases]
        connection = await asyncpg.connect(POSTGRES)
        try:
            ended = await connection.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = ANY($1::text[]) AND pid <> pg_backend_pid()",
                names,
            )
        finally:
            await connection.close()
        self._end(fault, f"{ended} connections terminated")

    def _begin(self, name: str) -> Fault:
        say(f"chaos: fault: {name}")
        fault = Fault(name, time.monotonic())
        self.faults.append(fault)
        return fault

    def _end(self, fault: Fault, detail: str, *, struck: bool = True) -> None:
        fault.ended, fault.detail, fault.struck = time.monotonic(), detail, struck
        say(f"chaos: fault over: {fault.name}: {detail}")

    # -- what the checks read -------------------------------------------------------------

    def queue_depths(self) -> dict[str, int]:
        """Messages (ready and unacknowledged) in each durable queue of the run's vhost."""
        listed = rabbitmqctl(
            "list_queues", "-p", self.names.vhost, "name", "messages", "--no-table-headers"
        )
        depths: dict[str, int] = {}
        for line in listed.stdout.splitlines():
            name, _, count = line.strip().rpartition("\t")
            if name in DRAINED_QUEUES and count.isdigit():
                depths[name] = int(count)
        return depths


def connection_owner(local_port: int) -> int | None:
    """The process holding the TCP socket whose local port is ``local_port`` (the SMTP
    client's end of a connection, as the server sees its peer)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == local_port:
                    inodes.add(f"socket:[{fields[9]}]")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for descriptor in (entry / "fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(descriptor) in inodes:
                        return int(entry.name)
    return None


async def database_rows(url: str, query: str, *arguments: object) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(libpq_dsn(url), timeout=30)
    try:
        rows: list[asyncpg.Record] = await connection.fetch(query, *arguments)
        return rows
    finally:
        await connection.close()
