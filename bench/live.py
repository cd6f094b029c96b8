"""The live stream (``GET /api/tasks/events``) on one tasks process.

(a) Idle streams: ``BENCH_LIVE_IDLE_STREAMS`` (10,000) streams, two per person, held open
    by this process while nothing changes: the tasks process's memory per stream (resident
    memory with the streams open against the same process before any) and its CPU while
    they idle, beside the same process idle without a stream (the baseline), over the same
    length of time (two keep-alive rounds and more).
(b) Listening streams: ``BENCH_LIVE_LISTENERS`` (1,000) people with one stream each, and
    ``BENCH_LIVE_RATE`` (50) changes per second to their tasks (a ``PATCH`` of a random
    person's task): from the change committed to its event read from the person's stream,
    p50/p99/max, and how many never arrived. The commit happens between the ``PATCH`` being
    sent and being answered: both are reported. Beside it, measured on the same changes,
    the floor: the same events read from a bare queue of this process bound to
    ``task.updated`` (the outbox relay and the broker, without the stream).

Real auth (only for its public keys) and tasks processes run as in ``make dev``; the access
tokens are signed here with auth's development key, so that no password hashing is part
of the run. The streams are plain HTTP/1.1 connections read by this process (asyncio, no
HTTP client library: 10,000 of those would cost this process more than the service).
"""

import asyncio
import json
import multiprocessing
import os
import random
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aio_pika
import httpx

from bench.database import truncate
from bench.progress import say
from bench.report import ScenarioReport, latency_figures
from bench.services import RABBITMQ_URL, ServiceError, run_python_module, uvicorn_service
from devsupport.rabbitmq import ensure_rabbitmq_vhost
from tracker_auth.config import Settings as AuthSettings
from tracker_auth.keys import load_signing_key
from tracker_auth.tokens import access_token
from tracker_contracts.messaging import EVENTS_EXCHANGE
from tracker_tasks.models import Base as TasksBase

NAME = "live"
AUTH_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/tracker_auth_live_bench"
TASKS_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/tracker_tasks_live_bench"
IDLE_STREAMS = int(os.environ.get("BENCH_LIVE_IDLE_STREAMS", "10000"))
LISTENERS = int(os.environ.get("BENCH_LIVE_LISTENERS", "1000"))
RATE = float(os.environ.get("BENCH_LIVE_RATE", "50"))
CHANGES = int(os.environ.get("BENCH_LIVE_CHANGES", "1500"))
KEEPALIVE_S = 15
IDLE_WINDOW_S = float(os.environ.get("BENCH_LIVE_IDLE_WINDOW", "35"))
"""Long enough for two keep-alive rounds."""
OPENING_AT_ONCE = 100
ARRIVAL_WAIT_S = 60.0
TICKS = os.sysconf("SC_CLK_TCK")


# -- the tasks process, seen from /proc -------------------------------------------------


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise ServiceError(f"no VmRSS for {pid}")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


async def cpu_share(pid: int, seconds: float) -> float:
    """The process's CPU use over ``seconds``, in percent of one core."""
    before, started = cpu_seconds(pid), time.monotonic()
    await asyncio.sleep(seconds)
    return 100 * (cpu_seconds(pid) - before) / (time.monotonic() - started)


# -- a stream, read as plain HTTP/1.1 ----------------------------------------------------


@dataclass
class Stream:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    events: "asyncio.Queue[tuple[str, str, float]]" = field(default_factory=asyncio.Queue)
    keep_alives: int = 0
    task: "asyncio.Task[None] | None" = None

    def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
        self.writer.transport.abort()


async def _chunks(reader: asyncio.StreamReader) -> AsyncIterator[bytes]:
    """The body of a chunked response, chunk by chunk."""
    while True:
        size = int((await reader.readline()).strip() or b"0", 16)
        if size == 0:
            return
        chunk = await reader.readexactly(size + 2)
        yield chunk[:-2]


async def _read_events(stream: Stream, remember: bool) -> None:
    """Parse the events as they come; with ``remember``, queue (event, data, arrival)."""
    buffer = b""
    async for chunk in _chunks(stream.reader):
        buffer += chunk
        while b"\n\n" in buffer:
            block, buffer = buffer.split(b"\n\n", 1)
            arrived = time.monotonic()
            if block.startswith(b":"):
                stream.keep_alives += 1
                continue
            name, data = "", ""
            for line in block.decode().split("\n"):
                key, _, value = line.partition(": ")
                if key == "event":
                    name = value
                elif key == "data":
                    data = value
            if remember or name == "ready":
                stream.events.put_nowait((name, data, arrived))


async def open_stream(host: str, port: int, token: str, *, remember: bool = False) -> Stream:
    """A stream of the person ``token`` is for, once its ``ready`` has arrived."""
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(
        f"GET /api/tasks/events HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n".encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise ServiceError(f"the stream was refused: {head.decode(errors='replace')[:200]}")
    stream = Stream(reader, writer)
    stream.task = asyncio.create_task(_read_events(stream, remember))
    name, _, _ = await asyncio.wait_for(stream.events.get(), timeout=60)
    if name != "ready":
        raise ServiceError(f"the stream began with {name}, not ready")
    return stream


async def open_streams(host: str, port: int, tokens: list[str], *, remember: bool) -> list[Stream]:
    limit = asyncio.Semaphore(OPENING_AT_ONCE)
    opened: list[Stream] = []

    async def one(token: str) -> None:
        async with limit:
            opened.append(await open_stream(host, port, token, remember=remember))
            if len(opened) % 1000 == 0:
                say(f"live: {len(opened)} streams open")

    await asyncio.gather(*(one(token) for token in tokens))
    return opened


# -- people ------------------------------------------------------------------------------


def mint_tokens(keys_dir: str, people: int) -> list[tuple[uuid.UUID, str]]:
    """``people`` new people, each with a session and an access token of an hour, signed
    with the development key auth publishes (no account in auth's database needed: the
    tasks service only verifies the token)."""
    settings = AuthSettings.model_validate(
        {"development_keys_dir": keys_dir, "access_token_ttl": timedelta(hours=1)}
    )
    key = load_signing_key(settings)
    now = datetime.now(UTC)
    minted = []
    for _ in range(people):
        user_id = uuid.uuid4()
        token, _ = access_token(
            key,
            settings,
            user_id=user_id,
            session_id=uuid.uuid4(),
            session_expires_at=now + timedelta(hours=2),
            now=now,
        )
        minted.append((user_id, token))
    return minted


# -- (a) idle streams --------------------------------------------------------------------


async def measure_idle(host: str, port: int, pid: int, keys_dir: str) -> dict[str, Any]:
    people = mint_tokens(keys_dir, max(1, IDLE_STREAMS // 2))
    tokens = [token for _, token in people for _ in range(2)][:IDLE_STREAMS]
    # Warm up the paths a stream takes (imports, the pool, the key set) before the baseline.
    warm = await open_stream(host, port, tokens[0])
    warm.close()
    await asyncio.sleep(1.0)
    say(f"live: the baseline, the process idle without a stream, for {IDLE_WINDOW_S:.0f} s")
    rss_before = rss_bytes(pid)
    cpu_idle = await cpu_share(pid, IDLE_WINDOW_S)
    say(f"live: opening {len(tokens)} streams, {OPENING_AT_ONCE} at a time")
    started = time.monotonic()
    streams = await open_streams(host, port, tokens, remember=False)
    opening_s = time.monotonic() - started
    await asyncio.sleep(2.0)
    rss_after = rss_bytes(pid)
    say(f"live: {len(streams)} streams idle for {IDLE_WINDOW_S:.0f} s")
    keep_alives_before = sum(stream.keep_alives for stream in streams)
    cpu_streams = await cpu_share(pid, IDLE_WINDOW_S)
    keep_alives = sum(stream.keep_alives for stream in streams) - keep_alives_before
    rss_end = rss_bytes(pid)
    for stream in streams:
        stream.close()
    await streams_closed(host, port)
    return {
        "streams": len(streams),
        "people": len(people),
        "opened_in_s": round(opening_s, 1),
        "rss_mb_without_streams": round(rss_before / 2**20, 1),
        "rss_mb_with_streams": round(rss_after / 2**20, 1),
        "rss_mb_after_idling": round(rss_end / 2**20, 1),
        "memory_kb_per_stream": round((rss_after - rss_before) / len(streams) / 1024, 1),
        "idle_cpu_percent_baseline": round(cpu_idle, 2),
        "idle_cpu_percent_with_streams": round(cpu_streams, 2),
        "keep_alives_received": keep_alives,
        "keep_alives_per_stream_per_minute": round(
            keep_alives / len(streams) / IDLE_WINDOW_S * 60, 2
        ),
    }


async def streams_closed(host: str, port: int) -> None:
    """Wait until the service has let go of every stream (its /readyz counts them)."""
    async with httpx.AsyncClient(base_url=f"http://{host}:{port}", timeout=10) as client:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ready = (await client.get("/readyz")).json()
            if ready["checks"]["streams"].get("streams") == 0:
                return
            await asyncio.sleep(0.5)
    raise ServiceError("the service still holds streams a minute after they were closed")


# -- (b) changes to listening streams ----------------------------------------------------


@dataclass
class Change:
    sent: float
    answered: float = 0.0
    on_stream: float | None = None
    in_queue: float | None = None


async def _bare_queue(arrivals: dict[tuple[str, int], float]) -> aio_pika.abc.AbstractConnection:
    """An exclusive queue of this process bound to task.updated: when each event reaches
    a consumer without the stream in between."""
    connection = await aio_pika.connect(RABBITMQ_URL)
    channel = await connection.channel()
    exchange = await channel.get_exchange(EVENTS_EXCHANGE)
    queue = await channel.declare_queue(exclusive=True, auto_delete=True)
    await queue.bind(exchange, routing_key="task.updated")

    async def arrived(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        data = json.loads(message.body)["data"]
        arrivals[(data["task_id"], data["version"])] = time.monotonic()

    await queue.consume(arrived, no_ack=True)
    return connection


async def measure_changes(host: str, port: int, pid: int, keys_dir: str) -> dict[str, Any]:
    people = mint_tokens(keys_dir, LISTENERS)
    base_url = f"http://{host}:{port}"
    changes: dict[tuple[str, int], Change] = {}
    in_queue: dict[tuple[str, int], float] = {}
    async with httpx.AsyncClient(
        base_url=base_url, timeout=30, limits=httpx.Limits(max_connections=50)
    ) as client:
        say(f"live: {LISTENERS} people, one task each")
        limit = asyncio.Semaphore(20)

        async def first_task(token: str) -> str:
            async with limit:
                response = await client.post(
                    "/api/tasks", json={"title": "Listen"}, headers=_bearer(token)
                )
            if response.status_code != 201:
                raise ServiceError(f"POST /api/tasks answered {response.status_code}")
            return str(response.json()["id"])

        task_ids = await asyncio.gather(*(first_task(token) for _, token in people))
        say(f"live: {LISTENERS} listening streams")
        streams = await open_streams(host, port, [token for _, token in people], remember=True)
        broker = await _bare_queue(in_queue)
        collectors = [asyncio.create_task(_collect(stream, changes)) for stream in streams]
        say(f"live: {CHANGES} changes at {RATE:.0f} per second")
        writes = []
        cpu_before = cpu_seconds(pid)
        started = time.monotonic()
        for number in range(CHANGES):
            await asyncio.sleep(max(0.0, started + number / RATE - time.monotonic()))
            who = random.randrange(LISTENERS)
            writes.append(
                asyncio.create_task(_change(client, task_ids[who], people[who][1], number, changes))
            )
        await asyncio.gather(*writes)
        elapsed = time.monotonic() - started
        achieved_rate = CHANGES / elapsed
        cpu_percent = 100 * (cpu_seconds(pid) - cpu_before) / elapsed
        deadline = time.monotonic() + ARRIVAL_WAIT_S
        while time.monotonic() < deadline and any(c.on_stream is None for c in changes.values()):
            await asyncio.sleep(0.1)
        for collector in collectors:
            collector.cancel()
        for stream in streams:
            stream.close()
        await broker.close()
    for key, arrival in in_queue.items():
        if key in changes:
            changes[key].in_queue = arrival
    arrived = [(c, c.on_stream) for c in changes.values() if c.on_stream is not None]
    floor = [(c, c.in_queue) for c in changes.values() if c.in_queue is not None]
    return {
        "listeners": LISTENERS,
        "changes": len(changes),
        "changes_per_s": round(achieved_rate, 1),
        "lost": len(changes) - len(arrived),
        "tasks_cpu_percent": round(cpu_percent, 1),
        "answered_to_stream": latency_figures([on_stream - c.answered for c, on_stream in arrived]),
        "sent_to_stream": latency_figures([on_stream - c.sent for c, on_stream in arrived]),
        "baseline_answered_to_bare_queue": latency_figures(
            [queued - c.answered for c, queued in floor]
        ),
        "change_round_trip": latency_figures([c.answered - c.sent for c in changes.values()]),
    }


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _change(
    client: httpx.AsyncClient,
    task_id: str,
    token: str,
    number: int,
    changes: dict[tuple[str, int], Change],
) -> None:
    sent = time.monotonic()
    response = await client.patch(
        f"/api/tasks/{task_id}", json={"title": f"Change {number}"}, headers=_bearer(token)
    )
    answered = time.monotonic()
    if response.status_code != 200:
        raise ServiceError(f"PATCH answered {response.status_code}: {response.text}")
    key = (task_id, int(response.json()["version"]))
    change = changes.setdefault(key, Change(sent=sent))
    change.sent, change.answered = sent, answered


async def _collect(stream: Stream, changes: dict[tuple[str, int], Change]) -> None:
    while True:
        name, data, arrived = await stream.events.get()
        if name != "task.updated":
            continue
        task = json.loads(data)
        change = changes.setdefault((task["id"], task["version"]), Change(sent=0.0))
        change.on_stream = arrived


# -- the scenario ------------------------------------------------------------------------


def _run(measure: Callable[..., Coroutine[Any, Any, dict[str, Any]]], *args: Any) -> dict[str, Any]:
    return asyncio.run(measure(*args))


def in_a_process_of_its_own(
    measure: Callable[..., Coroutine[Any, Any, dict[str, Any]]], *args: Any
) -> dict[str, Any]:
    """Each part's load from a fresh process: what 10,000 connections leave behind in a
    process (a large heap for its collector to walk) must not slow the next part's clock."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(_run, measure, *args).result()


def run() -> ScenarioReport:
    ensure_rabbitmq_vhost(RABBITMQ_URL)
    with tempfile.TemporaryDirectory(prefix="bench-live-") as keys_dir:
        environment = {
            "ENVIRONMENT": "development",
            "LOG_LEVEL": "WARNING",
            "RABBITMQ_URL": RABBITMQ_URL,
            "AUTH_COOKIE_SECURE": "false",
            "AUTH_DEVELOPMENT_KEYS_DIR": keys_dir,
            "AUTH_DATABASE_URL": AUTH_DATABASE_URL,
            "TASKS_DATABASE_URL": TASKS_DATABASE_URL,
            "TASKS_STREAM_KEEPALIVE_INTERVAL": f"PT{KEEPALIVE_S}S",
        }
        say("live: preparing the auth and tasks bench databases")
        run_python_module("tracker_auth.prestart", environment)
        run_python_module("tracker_tasks.prestart", environment)
        truncate(TASKS_DATABASE_URL, TasksBase.metadata)
        mint_tokens(keys_dir, 0)  # the development key, before auth publishes it
        with (
            uvicorn_service("live-auth", "tracker_auth.main:create_app", environment) as auth,
            uvicorn_service(
                "live-tasks",
                "tracker_tasks.main:create_app",
                {**environment, "TASKS_JWKS_URL": auth.url("/.well-known/jwks.json")},
            ) as tasks,
        ):
            host, port = "127.0.0.1", int(tasks.base_url.rsplit(":", 1)[1])
            idle = in_a_process_of_its_own(measure_idle, host, port, tasks.pid, keys_dir)
            listening = in_a_process_of_its_own(measure_changes, host, port, tasks.pid, keys_dir)
    stream_ms = listening["answered_to_stream"]
    floor_ms = listening["baseline_answered_to_bare_queue"]
    return ScenarioReport(
        name=NAME,
        title="idle live streams on one tasks process, and changes reaching listening streams",
        figures={"idle": idle, "listening": listening},
        settings={
            "idle_streams": IDLE_STREAMS,
            "listeners": LISTENERS,
            "changes_per_s": RATE,
            "changes": CHANGES,
            "keepalive_interval_s": KEEPALIVE_S,
            "idle_window_s": IDLE_WINDOW_S,
        },
        notes=[
            f"(a) {idle['streams']} idle streams: {idle['memory_kb_per_stream']} KB each "
            f"(RSS {idle['rss_mb_without_streams']} -> {idle['rss_mb_with_streams']} MB); "
            f"idle CPU {idle['idle_cpu_percent_with_streams']}% of a core, baseline without "
            f"streams {idle['idle_cpu_percent_baseline']}%",
            f"(b) {listening['changes']} changes at {listening['changes_per_s']}/s to "
            f"{listening['listeners']} listening streams, {listening['lost']} lost: "
            f"commit (answered) to arrival p50 {stream_ms['p50_ms']} ms, p99 "
            f"{stream_ms['p99_ms']} ms (goal p99 < 100 ms); baseline (same changes) to a bare "
            f"queue p50 {floor_ms['p50_ms']} ms, p99 {floor_ms['p99_ms']} ms",
        ],
    )
