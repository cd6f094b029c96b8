"""The outbox relay: events per second published with publisher confirms.

The baseline is the bare broker in the same run: aio-pika publishing the same messages with
confirms, as many in flight as the relay's batch. The relay adds what makes it safe: reading
rows with ``FOR UPDATE SKIP LOCKED`` and marking them published after their confirms.
"""

import asyncio
import time
import uuid
from typing import Any

import aio_pika
from sqlalchemy import insert, text

from bench.progress import say
from bench.report import ScenarioReport
from bench.services import RABBITMQ_URL
from devsupport.database import truncate_statement
from devsupport.rabbitmq import ensure_rabbitmq_vhost
from tracker_contracts import EVENTS_EXCHANGE, Envelope, UserRegistered
from tracker_contracts.messaging import QUEUES
from tracker_runtime.database import Database, new_metadata
from tracker_runtime.messaging import new_broker
from tracker_runtime.migrations import ensure_database
from tracker_runtime.outbox import define_outbox_table, notify_trigger_ddl
from tracker_runtime.relay import OutboxRelay

NAME = "relay"
DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/tracker_relay_bench"
EVENTS = 20_000
BATCH = 500
GOAL_PER_SECOND = 1_000

metadata = new_metadata()
outbox = define_outbox_table(metadata)


def _payloads(count: int) -> list[dict[str, Any]]:
    return [
        Envelope.wrap(
            UserRegistered(
                user_id=uuid.uuid4(), email=f"bench-{number}@example.com", timezone="UTC"
            )
        ).model_dump(mode="json")
        for number in range(count)
    ]


async def _purge_queues() -> None:
    connection = await aio_pika.connect(RABBITMQ_URL)
    async with connection:
        channel = await connection.channel()
        for declaration in QUEUES:
            queue = await channel.get_queue(declaration.name)
            await queue.purge()


async def _baseline(payloads: list[dict[str, Any]]) -> float:
    """Events per second straight through aio-pika, confirms awaited in batches."""
    connection = await aio_pika.connect(RABBITMQ_URL)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(EVENTS_EXCHANGE)
        bodies = [aio_pika.Message(str(p).encode(), delivery_mode=2) for p in payloads]
        started = time.perf_counter()
        for start in range(0, len(bodies), BATCH):
            await asyncio.gather(
                *(
                    exchange.publish(message, routing_key="user.registered", mandatory=True)
                    for message in bodies[start : start + BATCH]
                )
            )
        return len(bodies) / (time.perf_counter() - started)


async def _relay(database: Database, payloads: list[dict[str, Any]]) -> float:
    """Events per second through the relay, from the first claim to the last mark."""
    async with database.sessions.begin() as session:
        await session.execute(text(truncate_statement(metadata)))
        await session.execute(
            insert(outbox),
            [
                {"event_id": p["event_id"], "event_type": p["event_type"], "payload": p}
                for p in payloads
            ],
        )
    relay = OutboxRelay(
        database=database, table=outbox, broker=new_broker(RABBITMQ_URL), batch_size=BATCH
    )
    started = time.perf_counter()
    await relay.start()
    try:
        while (await relay.backlog()).pending:
            await asyncio.sleep(0.05)
    finally:
        elapsed = time.perf_counter() - started
        await relay.stop()
    return len(payloads) / elapsed


async def _measure() -> dict[str, Any]:
    await ensure_database(DATABASE_URL)
    database = Database(DATABASE_URL)
    try:
        async with database.engine.begin() as connection:
            await connection.run_sync(metadata.drop_all)
            await connection.run_sync(metadata.create_all)
            for statement in notify_trigger_ddl():
                await connection.execute(text(statement))
        payloads = _payloads(EVENTS)
        say(f"relay: baseline, {EVENTS} confirmed publishes straight through aio-pika")
        baseline = await _baseline(payloads)
        await _purge_queues()
        say(f"relay: {EVENTS} outbox rows through the relay")
        relayed = await _relay(database, payloads)
        await _purge_queues()
    finally:
        await database.dispose()
    return {"baseline_per_s": round(baseline), "relay_per_s": round(relayed)}


def run() -> ScenarioReport:
    ensure_rabbitmq_vhost(RABBITMQ_URL)
    figures = asyncio.run(_measure())
    ratio = figures["relay_per_s"] / figures["baseline_per_s"]
    met = figures["relay_per_s"] >= GOAL_PER_SECOND
    figures |= {
        "ratio_to_baseline": round(ratio, 2),
        "goal": {"relay_events_per_s_at_least": GOAL_PER_SECOND, "met": met},
    }
    return ScenarioReport(
        name=NAME,
        title="outbox relay: events per second with publisher confirms",
        figures=figures,
        settings={"events": EVENTS, "batch_size": BATCH, "persistent": True},
        notes=[
            f"bare aio-pika with confirms: {figures['baseline_per_s']} events/s",
            f"relay (claim, publish, confirm, mark): {figures['relay_per_s']} events/s "
            f"(x{ratio:.2f} of the baseline)",
            f"goal (>= {GOAL_PER_SECOND} events/s): " + ("goal met" if met else "goal missed"),
        ],
    )
