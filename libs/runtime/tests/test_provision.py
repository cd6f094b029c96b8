"""Least privilege on the real servers: a service's role owns its database and cannot open
another's; a service's RabbitMQ user publishes the events it owns and is refused any other;
provisioning again changes nothing. Every role, database, user and virtual host here carries
this run's id (``tests.support.run``), which drops them when the run ends."""

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

from devsupport.rabbitmq import ensure_rabbitmq_vhost, rabbitmqctl
from tests.support import run
from tracker_contracts import EVENTS_EXCHANGE
from tracker_contracts.permissions import AUTH, NOTIFIER, SCHEDULER, TASKS
from tracker_runtime.database import libpq_dsn
from tracker_runtime.messaging import declare_topology, new_broker
from tracker_runtime.provision import (
    BrokerAccount,
    DatabaseAccount,
    Rabbitmqctl,
    provision_broker,
    provision_database,
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
    ensure_rabbitmq_vhost(run.vhost_url(VHOST))
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
    broker = new_broker(broker_url("tasks"))
    await broker.connect()
    try:
        await declare_topology(broker)  # the tasks user may declare the shared topology
    finally:
        await broker.stop()

    await publish(broker_url("tasks"), "task.created")
    await publish(broker_url("auth"), "user.registered")
    with pytest.raises(ChannelAccessRefused, match="ACCESS_REFUSED"):
        await publish(broker_url("tasks"), "user.registered")
    with pytest.raises(ChannelAccessRefused, match="ACCESS_REFUSED"):
        await publish(broker_url("notifier"), "user.deleted")
