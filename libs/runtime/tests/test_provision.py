"""Least privilege on the real servers: a service's role owns its database and cannot open
another's; a service's RabbitMQ user publishes the events it owns and is refused any other,
consumes its own queues and no other service's, and may not declare or delete the shared
topology, which provisioning declares; provisioning again changes nothing. Every role,
database, user and virtual host here carries this run's id (``tests.support.run``), which
drops them when the run ends."""

import asyncio
import json
import os
import subprocess
import sys
from typing import Any

import aio_pika
import psycopg
import pytest
from aiormq.exceptions import ChannelAccessRefused
from psycopg import sql

from devsupport.rabbitmq import ensure_rabbitmq_vhost, one_vhost_change_at_a_time, rabbitmqctl
from tests.support import run
from tracker_contracts import EVENTS_EXCHANGE
from tracker_contracts.messaging import (
    EXCHANGES,
    NOTIFIER_EVENTS,
    NOTIFIER_TASK_EXCHANGE,
    NOTIFIER_TASK_QUEUE,
    NOTIFIER_TICKS,
    QUEUES,
    RETIRED_QUEUES,
    TASKS_EVENTS,
    TASKS_LIVE,
    UNROUTED_EXCHANGE,
    UNROUTED_QUEUE,
)
from tracker_contracts.permissions import AUTH, NOTIFIER, SCHEDULER, TASKS
from tracker_runtime.database import libpq_dsn
from tracker_runtime.messaging import new_broker, unrouted_depth
from tracker_runtime.provision import (
    BrokerAccount,
    DatabaseAccount,
    ProvisioningError,
    Rabbitmqctl,
    provision_broker,
    provision_database,
    provision_topology,
)

ADMIN = run.POSTGRES
VHOST = "tracker-privilege"
AUTH_URL = run.role_url("tracker_auth_privilege")
TASKS_URL = run.role_url("tracker_tasks_privilege")
BROKER = {
    name: (BrokerAccount.from_url(run.user_vhost_url(f"tracker-{name}-privilege", VHOST)), grant)
    for name, grant in (
        ("auth", AUTH),
        ("tasks", TASKS),
        ("notifier", NOTIFIER),
        ("scheduler", SCHEDULER),
    )
}


def broker_url(service: str) -> str:
    return run.user_vhost_url(f"tracker-{service}-privilege", VHOST)


@pytest.fixture(scope="module")
def databases() -> None:
    """The auth database made first by the superuser (as before least privilege), with a
    table of password hashes, then both databases provisioned."""
    auth = DatabaseAccount.from_url(AUTH_URL)
    with psycopg.connect(ADMIN, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(auth.database)))
    with psycopg.connect(libpq_dsn(ADMIN, auth.database), autocommit=True) as connection:
        connection.execute("CREATE TABLE users (id serial PRIMARY KEY, password_hash text)")
        connection.execute("INSERT INTO users (password_hash) VALUES ('$argon2id$...')")
    for url in (AUTH_URL, TASKS_URL):
        assert asyncio.run(provision_database(ADMIN, DatabaseAccount.from_url(url)))


@pytest.fixture(scope="module")
def broker_users() -> None:
    """The users, and the shared topology, in a virtual host made empty (no topology)."""
    ensure_rabbitmq_vhost(run.vhost_url(VHOST))
    with one_vhost_change_at_a_time():
        rabbitmqctl("delete_vhost", run.vhost(VHOST))
        rabbitmqctl("add_vhost", run.vhost(VHOST))
    rabbitmqctl("set_permissions", "-p", run.vhost(VHOST), "guest", ".*", ".*", ".*")
    provisioned = provision_broker(Rabbitmqctl(), list(BROKER.values()))
    assert len(provisioned) == len(BROKER)


def database_state() -> list[Any]:
    """The roles, their databases (owner and access list) and the owners of their tables."""
    names = [DatabaseAccount.from_url(url).database for url in (AUTH_URL, TASKS_URL)]
    with psycopg.connect(ADMIN, autocommit=True) as connection:
        state: list[Any] = connection.execute(
            "SELECT rolname, rolsuper, rolcreatedb, rolcreaterole, rolcanlogin FROM pg_roles"
            " WHERE rolname = ANY(%s) ORDER BY rolname",
            (names,),
        ).fetchall()
        state += connection.execute(
            "SELECT datname, pg_get_userbyid(datdba), datacl::text FROM pg_database"
            " WHERE datname = ANY(%s) ORDER BY datname",
            (names,),
        ).fetchall()
    with psycopg.connect(libpq_dsn(ADMIN, names[0]), autocommit=True) as connection:
        state += connection.execute(
            "SELECT relname, pg_get_userbyid(relowner) FROM pg_class"
            " WHERE relnamespace = 'public'::regnamespace ORDER BY relname"
        ).fetchall()
    return state


def broker_state() -> list[str]:
    vhost = run.vhost(VHOST)
    listed = [
        rabbitmqctl("list_permissions", "-p", vhost, "--no-table-headers").stdout,
        rabbitmqctl("list_topic_permissions", "-p", vhost, "--no-table-headers").stdout,
        rabbitmqctl("list_users", "--no-table-headers").stdout,
    ]
    return sorted(line for text in listed for line in text.splitlines() if "privilege" in line)


def test_a_service_role_owns_its_database_and_what_was_in_it(databases: None) -> None:
    with psycopg.connect(libpq_dsn(AUTH_URL), autocommit=True) as connection:
        assert connection.execute("SELECT current_user").fetchone() == (
            DatabaseAccount.from_url(AUTH_URL).role,
        )
        assert connection.execute("SELECT count(*) FROM users").fetchone() == (1,)
        connection.execute("CREATE TABLE sessions (id uuid PRIMARY KEY)")  # migrations can


def test_a_service_cannot_read_another_services_tables(databases: None) -> None:
    auth = DatabaseAccount.from_url(AUTH_URL)
    as_tasks_in_auth = libpq_dsn(TASKS_URL, auth.database)

    with (
        pytest.raises(psycopg.OperationalError, match="permission denied for database"),
        psycopg.connect(as_tasks_in_auth) as connection,
    ):
        connection.execute("SELECT password_hash FROM users")


def test_provisioning_again_changes_nothing(databases: None, broker_users: None) -> None:
    """Run again as `make dev` runs it (``python -m tracker_runtime.provision``)."""
    before = database_state(), broker_state()
    environment = {
        **os.environ,
        "POSTGRES_ADMIN_URL": ADMIN,
        "AUTH_DATABASE_URL": AUTH_URL,
        "TASKS_DATABASE_URL": TASKS_URL,
        **{f"{name.upper()}_RABBITMQ_URL": broker_url(name) for name in BROKER},
    }
    environment.pop("NOTIFIER_DATABASE_URL", None)

    provisioned = subprocess.run(
        [sys.executable, "-m", "tracker_runtime.provision"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert provisioned.returncode == 0, provisioned.stderr
    assert "no database URL for notifier" in provisioned.stderr
    assert (database_state(), broker_state()) == before


def test_administrators_are_left_as_they_are(broker_users: None) -> None:
    guest = BrokerAccount.from_url(run.vhost_url(VHOST))
    assert provision_broker(Rabbitmqctl(), [(guest, TASKS)]) == []
    assert asyncio.run(provision_database(ADMIN, DatabaseAccount.from_url(ADMIN))) is False

    permissions = rabbitmqctl("list_user_permissions", "guest", "--no-table-headers").stdout
    assert f"{run.vhost(VHOST)}\t.*\t.*\t.*" in permissions


async def publish(url: str, routing_key: str) -> None:
    """Publish one event body to ``tracker.events`` as the user of ``url``, with a confirm."""
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(EVENTS_EXCHANGE, ensure=False)
        body = json.dumps({"event_type": routing_key}).encode()
        await exchange.publish(aio_pika.Message(body), routing_key=routing_key, timeout=10)
    finally:
        await connection.close()


async def test_a_service_cannot_publish_an_event_type_it_does_not_own(
    broker_users: None,
) -> None:
    await publish(broker_url("tasks"), "task.created")
    await publish(broker_url("auth"), "user.registered")
    with pytest.raises(ChannelAccessRefused, match="ACCESS_REFUSED"):
        await publish(broker_url("tasks"), "user.registered")
    with pytest.raises(ChannelAccessRefused, match="ACCESS_REFUSED"):
        await publish(broker_url("notifier"), "user.deleted")


async def take_one(service: str, queue_name: str) -> None:
    """``basic.get`` one message from ``queue_name`` as ``service``'s user (the queue is
    looked up passively, which needs no permission; taking a message needs read)."""
    connection = await aio_pika.connect(broker_url(service))
    try:
        channel = await connection.channel()
        queue = await channel.get_queue(queue_name, ensure=True)
        await queue.get(fail=False, no_ack=False)
    finally:
        await connection.close()


THEIRS = [
    ("auth", NOTIFIER_EVENTS.name),
    ("auth", TASKS_EVENTS.name),
    ("auth", UNROUTED_QUEUE),
    ("tasks", NOTIFIER_EVENTS.name),
    ("tasks", f"{NOTIFIER_EVENTS.name}.dead-letter"),
    ("notifier", TASKS_EVENTS.name),
    ("scheduler", NOTIFIER_TICKS.name),
]


@pytest.mark.parametrize(("service", "queue_name"), THEIRS, ids="-takes-".join)
async def test_a_service_cannot_consume_another_services_queue(
    broker_users: None, service: str, queue_name: str
) -> None:
    with pytest.raises(ChannelAccessRefused, match="ACCESS_REFUSED"):
        await take_one(service, queue_name)


@pytest.mark.parametrize(
    ("service", "queue_name"),
    [("notifier", NOTIFIER_EVENTS.name), ("tasks", TASKS_EVENTS.name)],
    ids="-takes-".join,
)
async def test_a_service_consumes_its_own_queue(
    broker_users: None, service: str, queue_name: str
) -> None:
    await take_one(service, queue_name)


@pytest.mark.parametrize("service", list(BROKER))
async def test_no_service_may_declare_or_delete_the_shared_topology(
    broker_users: None, service: str
) -> None:
    connection = await aio_pika.connect(broker_url(service))
    try:
        channel = await connection.channel()
        with pytest.raises(ChannelAccessRefused, match="ACCESS_REFUSED"):
            await channel.declare_queue(
                NOTIFIER_EVENTS.name, durable=True, arguments=dict(NOTIFIER_EVENTS.queue_arguments)
            )
        with pytest.raises(ChannelAccessRefused, match="ACCESS_REFUSED"):
            await (await connection.channel()).queue_delete(TASKS_EVENTS.name)
        with pytest.raises(ChannelAccessRefused, match="ACCESS_REFUSED"):
            await (await connection.channel()).exchange_delete(EVENTS_EXCHANGE)
    finally:
        await connection.close()


async def test_the_relay_counts_unrouted_events_without_reading_them(
    broker_users: None,
) -> None:
    """``/readyz`` reports the unrouted queue's depth by a passive declare, which needs no
    permission: auth's user, which may not read the queue, still counts it."""
    await publish(broker_url("auth"), "user.verification_requested")  # bound for no queue here?
    broker = new_broker(broker_url("auth"))
    await broker.connect()
    try:
        assert await unrouted_depth(broker) >= 0
    finally:
        await broker.stop()


async def declare_live_queue(channel: aio_pika.abc.AbstractChannel) -> aio_pika.abc.AbstractQueue:
    """A live queue of the tasks service, as its processes declare theirs."""
    return await channel.declare_queue(
        TASKS_LIVE.queue_name("privilege"),
        exclusive=True,
        auto_delete=True,
        arguments=TASKS_LIVE.queue_arguments,
    )


async def test_the_tasks_service_declares_and_consumes_its_live_queue(
    broker_users: None,
) -> None:
    """Its own queue: declared, bound to the events and consumed by the tasks user, which
    hears a task event published by the relay of tasks."""
    connection = await aio_pika.connect(broker_url("tasks"))
    try:
        queue = await declare_live_queue(await connection.channel())
        await queue.bind(EVENTS_EXCHANGE, routing_key="task.created")
        await publish(broker_url("tasks"), "task.created")
        async with asyncio.timeout(10):
            while await queue.get(fail=False, no_ack=True) is None:
                await asyncio.sleep(0.05)
        other = await connection.channel()
        with pytest.raises(ChannelAccessRefused, match="ACCESS_REFUSED"):
            await other.declare_queue("tasks.spy", exclusive=True)
    finally:
        await connection.close()


async def bind_live_queue(routing_key: str) -> None:
    """Bind a live queue of the tasks service to the events with ``routing_key``, as the
    tasks user."""
    connection = await aio_pika.connect(broker_url("tasks"))
    try:
        queue = await declare_live_queue(await connection.channel())
        await queue.bind(EVENTS_EXCHANGE, routing_key=routing_key)
    finally:
        await connection.close()


async def test_a_service_hears_only_the_events_it_must(broker_users: None) -> None:
    """Binding to a topic exchange checks the routing key: the tasks service's live queue
    may hear task events, never ``user.registered`` (it carries the confirmation link)."""
    await bind_live_queue("task.created")
    await bind_live_queue("session.revoked")
    for routing_key in ("user.registered", "#", "user.*"):
        with pytest.raises(ChannelAccessRefused, match="ACCESS_REFUSED"):
            await bind_live_queue(routing_key)


async def test_the_notifier_binds_its_task_queues_for_delayed_delivery(
    broker_users: None,
) -> None:
    """Celery's delayed delivery binds each task queue to the task exchange with
    ``#.<queue>``; nothing else may be bound there by the notifier."""
    connection = await aio_pika.connect(broker_url("notifier"))
    try:
        channel = await connection.channel()
        for queue_name in (NOTIFIER_TICKS.name, NOTIFIER_TASK_QUEUE):
            queue = await channel.get_queue(queue_name, ensure=True)
            await queue.bind(NOTIFIER_TASK_EXCHANGE, routing_key=f"#.{queue_name}")
        spy = await (await connection.channel()).get_queue(NOTIFIER_TICKS.name, ensure=True)
        with pytest.raises(ChannelAccessRefused, match="ACCESS_REFUSED"):
            await spy.bind(NOTIFIER_TASK_EXCHANGE, routing_key="#")
    finally:
        await connection.close()


async def test_provisioning_declares_exactly_the_contracts_topology(
    broker_users: None,
) -> None:
    """An active declare with the contract's arguments is accepted (RabbitMQ compares them,
    PRECONDITION_FAILED otherwise), so the definitions say what the contract says."""
    connection = await aio_pika.connect(run.vhost_url(VHOST))
    try:
        channel = await connection.channel()
        for exchange in EXCHANGES:
            await channel.declare_exchange(
                exchange.name, type=exchange.type, durable=True, arguments=exchange.arguments
            )
        for declaration in QUEUES:
            await channel.declare_queue(
                declaration.name, durable=True, arguments=dict(declaration.arguments)
            )
        with pytest.raises(aio_pika.exceptions.ChannelPreconditionFailed):
            await (await connection.channel()).declare_queue(
                TASKS_EVENTS.name, durable=True, arguments={"x-queue-type": "classic"}
            )
    finally:
        await connection.close()


def test_provisioning_retires_the_old_queues(broker_users: None) -> None:
    """Installations from before the bound have an unbounded ``tracker.unrouted``; RabbitMQ
    refuses to change a queue's arguments, so the bounded queue has a name of its own and
    provisioning deletes the old one (and ``tasks.sessions``)."""

    async def declare_old() -> None:
        connection = await aio_pika.connect(run.vhost_url(VHOST))
        async with connection:
            channel = await connection.channel()
            for retired in RETIRED_QUEUES:
                old = await channel.declare_queue(
                    retired, durable=True, arguments={"x-queue-type": "classic"}
                )
                await old.bind(UNROUTED_EXCHANGE)

    async def exists(name: str) -> bool:
        connection = await aio_pika.connect(run.vhost_url(VHOST))
        async with connection:
            try:
                await (await connection.channel()).get_queue(name, ensure=True)
            except aio_pika.exceptions.ChannelNotFoundEntity:
                return False
            return True

    asyncio.run(declare_old())
    assert all(asyncio.run(exists(name)) for name in RETIRED_QUEUES)

    provision_topology(Rabbitmqctl(), [run.vhost(VHOST)])

    assert not any(asyncio.run(exists(name)) for name in RETIRED_QUEUES)
    assert asyncio.run(exists(UNROUTED_QUEUE))


def test_provisioning_refuses_a_queue_with_other_arguments() -> None:
    """RabbitMQ keeps an existing queue as it is when definitions name it with other
    arguments; provisioning says so and fails, rather than leave it unlike the contract."""
    vhost = run.vhost("tracker-privilege-differing")
    with one_vhost_change_at_a_time():
        rabbitmqctl("delete_vhost", vhost)
        rabbitmqctl("add_vhost", vhost)
    rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")

    async def declare_unlike_the_contract() -> None:
        connection = await aio_pika.connect(run.vhost_url("tracker-privilege-differing"))
        async with connection:
            channel = await connection.channel()
            await channel.declare_queue(
                TASKS_EVENTS.name, durable=True, arguments={"x-queue-type": "classic"}
            )

    try:
        asyncio.run(declare_unlike_the_contract())
        with pytest.raises(ProvisioningError, match=TASKS_EVENTS.name):
            provision_topology(Rabbitmqctl(), [vhost])
    finally:
        with one_vhost_change_at_a_time():
            rabbitmqctl("delete_vhost", vhost)
