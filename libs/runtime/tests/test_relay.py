"""The outbox relay against the real PostgreSQL and RabbitMQ."""

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import aio_pika
import pytest
from sqlalchemy import func, select, text, update

from devsupport.database import truncate_statement
from tests.support.metrics import sample
from tests.support.rabbitmq import observe_events
from tests.support.tcp_proxy import TcpProxy
from tracker_contracts import EVENTS_EXCHANGE, TaskCompleted, UserRegistered, parse_envelope
from tracker_contracts.messaging import (
    UNROUTED_QUEUE,
    UNROUTED_QUEUE_ARGUMENTS,
)
from tracker_runtime.database import Database, new_metadata
from tracker_runtime.messaging import new_broker
from tracker_runtime.migrations import ensure_database
from tracker_runtime.outbox import add_event, define_outbox_table, notify_trigger_ddl
from tracker_runtime.relay import OutboxRelay

DATABASE_URL = os.environ["RUNTIME_TEST_DATABASE_URL"]
metadata = new_metadata()
outbox = define_outbox_table(metadata)


@pytest.fixture(scope="module")
async def database() -> AsyncIterator[Database]:
    await ensure_database(DATABASE_URL)
    db = Database(DATABASE_URL)
    async with db.engine.begin() as connection:
        await connection.run_sync(metadata.drop_all)
        await connection.run_sync(metadata.create_all)
        for statement in notify_trigger_ddl():
            await connection.execute(text(statement))
    yield db
    await db.dispose()


@pytest.fixture(autouse=True)
async def empty_outbox(database: Database) -> None:
    async with database.engine.begin() as connection:
        await connection.exec_driver_sql(truncate_statement(metadata))


def relay_for(
    database: Database, url: str | None = None, **options: float | timedelta
) -> OutboxRelay:
    broker = new_broker(url or os.environ["RABBITMQ_URL"])
    return OutboxRelay(database=database, table=outbox, broker=broker, **options)  # type: ignore[arg-type]


async def add_users(database: Database, count: int) -> list[uuid.UUID]:
    ids = []
    async with database.sessions.begin() as session:
        for number in range(count):
            envelope = await add_event(
                session,
                outbox,
                UserRegistered(
                    user_id=uuid.uuid4(), email=f"user{number}@example.com", timezone="UTC"
                ),
            )
            ids.append(envelope.event_id)
    return ids


async def pending(database: Database) -> int:
    query = select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
    async with database.engine.connect() as connection:
        return int((await connection.execute(query)).scalar_one())


async def published_all(database: Database, timeout: float = 10) -> bool:
    """Whether every row got marked published (which follows the broker's confirm, a
    moment after a consumer may already have seen the message)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while await pending(database) and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)
    return await pending(database) == 0


async def test_events_leave_with_the_pinned_envelope_and_properties(database: Database) -> None:
    relay = relay_for(database)
    async with observe_events() as observed:
        await relay.start()
        try:
            [event_id] = await add_users(database, 1)
            await observed.wait_for(1)
            assert await published_all(database)
        finally:
            await relay.stop()

    [message] = observed.messages
    assert message.message_id == str(event_id)
    assert message.content_type == "application/json"
    assert message.delivery_mode is not None
    assert message.delivery_mode.value == 2  # persistent
    assert message.routing_key == "user.registered"
    assert message.headers["event_version"] == 1
    envelope = parse_envelope(message.body)
    assert envelope.event_id == event_id
    assert isinstance(envelope.data, UserRegistered)


async def test_a_notify_wakes_the_relay_long_before_its_poll(database: Database) -> None:
    relay = relay_for(database, poll_interval=120)
    async with observe_events() as observed:
        await relay.start()
        try:
            await asyncio.sleep(0.5)  # the listener is up and the first (empty) poll is done
            await add_users(database, 1)
            await observed.wait_for(1, timeout=10)  # far below the 120 s poll
        finally:
            await relay.stop()


async def test_replicas_share_the_outbox_without_publishing_twice(database: Database) -> None:
    relays = [relay_for(database, batch_size=20) for _ in range(3)]
    async with observe_events() as observed:
        event_ids = await add_users(database, 300)
        for relay in relays:
            await relay.start()
        try:
            await observed.wait_for(300)
            await asyncio.sleep(0.5)  # room for duplicates to show up, if any
        finally:
            for relay in relays:
                await relay.stop()

    published = [str(message.message_id) for message in observed.messages]
    assert sorted(published) == sorted(str(event_id) for event_id in event_ids)
    assert sum(relay.published_total for relay in relays) == 300
    assert sum(1 for relay in relays if relay.published_total > 0) >= 2


async def test_events_wait_while_the_broker_is_down_and_leave_once_it_is_back(
    database: Database,
) -> None:
    proxy = TcpProxy("127.0.0.1", 5672)
    await proxy.start()
    url = proxy.through(os.environ["RABBITMQ_URL"])
    relay = relay_for(database, url, max_backoff=1.0)
    async with observe_events() as observed:
        await relay.start()
        try:
            await add_users(database, 2)
            await observed.wait_for(2)
            assert await published_all(database)
            await proxy.cut()

            during = await add_users(database, 5)
            await asyncio.sleep(1.5)
            readiness = await relay.readiness()
            assert readiness["pending"] == 5
            assert readiness["oldest_age_seconds"] > 1
            assert len(observed.messages) == 2

            await proxy.start()
            await observed.wait_for(7, timeout=30)
            assert await published_all(database)
            await asyncio.sleep(0.5)  # room for duplicates to show up, if any
        finally:
            await relay.stop()
            await proxy.cut()

    assert len(observed.messages) == 7
    assert {m.message_id for m in observed.messages} >= {str(e) for e in during}


async def test_an_event_without_a_consumer_is_kept_not_lost(database: Database) -> None:
    """An event type no queue is bound for (one from a newer version of its producer, say,
    before any consumer knows it) goes to the alternate exchange's queue instead of being
    dropped or returned (and retried forever)."""
    relay = relay_for(database)
    async with database.sessions.begin() as session:
        envelope = await add_event(
            session,
            outbox,
            TaskCompleted(
                task_id=uuid.uuid4(),
                user_id=uuid.uuid4(),
                title="Water the plants",
                completed_at=datetime.now(UTC),
            ),
        )
        # Every event type of the contracts has a consumer now: name one that has none.
        await session.execute(
            update(outbox)
            .where(outbox.c.event_id == envelope.event_id)
            .values(event_type="task.archived")
        )
    await relay.start()
    try:
        async with asyncio.timeout(15):
            while await pending(database):
                await asyncio.sleep(0.05)
    finally:
        await relay.stop()

    connection = await aio_pika.connect(os.environ["RABBITMQ_URL"])
    async with connection:
        channel = await connection.channel()
        unrouted = await channel.get_queue(UNROUTED_QUEUE)
        kept = []
        while (message := await unrouted.get(fail=False)) is not None:
            kept.append(message.message_id)
            await message.ack()
    assert str(envelope.event_id) in kept


async def wait_for_depth(channel: aio_pika.abc.AbstractChannel, depth: int) -> None:
    async with asyncio.timeout(15):
        while (await (await channel.get_queue(UNROUTED_QUEUE)).declare()).message_count != depth:
            await asyncio.sleep(0.05)


async def test_unrouted_events_are_bounded_dropping_the_oldest_and_counted(
    database: Database,
) -> None:
    """Nothing consumes what is unrouted: past its bound the oldest go, so that it can never
    fill the disk and stop every publisher; the relay's /readyz details show its depth."""
    bound = UNROUTED_QUEUE_ARGUMENTS["x-max-length"]
    relay = relay_for(database)
    await relay.start()
    connection = await aio_pika.connect(os.environ["RABBITMQ_URL"])
    try:
        async with asyncio.timeout(10):
            while (await relay.readiness())["broker"] != "up":
                await asyncio.sleep(0.05)
        channel = await connection.channel(publisher_confirms=True)
        await (await channel.get_queue(UNROUTED_QUEUE)).purge()
        exchange = await channel.get_exchange(EVENTS_EXCHANGE)
        for first in range(0, bound + 1, 1000):
            await asyncio.gather(
                *(
                    exchange.publish(
                        aio_pika.Message(b"{}", message_id=str(number)),
                        routing_key="nobody.listens",
                    )
                    for number in range(first, min(first + 1000, bound + 1))
                )
            )
        await wait_for_depth(channel, bound)

        readiness = await relay.readiness()
        oldest = await (await channel.get_queue(UNROUTED_QUEUE)).get(no_ack=True)
    finally:
        await connection.close()
        await relay.stop()

    assert oldest.message_id == "1"  # "0" was dropped
    assert readiness["unrouted"] == bound


async def test_published_rows_are_forgotten_after_the_retention_even_with_the_broker_down(
    database: Database,
) -> None:
    """Cleaning the outbox must not wait for the broker: an outage is when it grows."""
    old, recent, unpublished = await add_users(database, 3)
    now = datetime.now(UTC)
    async with database.sessions.begin() as session:
        for event_id, published_at in ((old, now - timedelta(days=8)), (recent, now)):
            mark = update(outbox).where(outbox.c.event_id == event_id)
            await session.execute(mark.values(published_at=published_at))
    relay = relay_for(
        database,
        "amqp://guest:guest@127.0.0.1:9/",  # nothing listens there
        retention=timedelta(days=7),
        cleanup_interval=timedelta(milliseconds=50),
    )
    await relay.start()
    try:
        await asyncio.sleep(0.5)
    finally:
        await relay.stop()

    async with database.engine.connect() as connection:
        left = set((await connection.execute(select(outbox.c.event_id))).scalars())
    assert left == {recent, unpublished}


async def test_the_relay_counts_what_it_publishes_and_measures_its_backlog(
    database: Database,
) -> None:
    published_before = sample("tracker_outbox_published_total", event_type="user.registered")
    waiting = relay_for(database)  # never started: its rows wait
    await add_users(database, 3)
    await asyncio.sleep(0.3)

    await waiting.measure_backlog()
    assert sample("tracker_outbox_pending") == 3
    assert sample("tracker_outbox_oldest_pending_age_seconds") >= 0.3

    relay = relay_for(database)
    async with observe_events() as observed:
        await relay.start()
        try:
            await observed.wait_for(3)
            assert await published_all(database)
        finally:
            await relay.stop()
    await waiting.measure_backlog()

    assert sample("tracker_outbox_published_total", event_type="user.registered") == (
        published_before + 3
    )
    assert sample("tracker_outbox_pending") == 0
    assert sample("tracker_outbox_oldest_pending_age_seconds") == 0
