"""Least privilege: a PostgreSQL role per service that owns its database and nothing else,
a RabbitMQ user per service with the permissions of ``tracker_contracts.permissions``, and
the shared durable topology those users may use but not declare.

Usage: ``python -m tracker_runtime.provision`` (``make dev`` runs it before the prestarts;
Compose and Kubernetes run it as an init step). It reads the administrator's credentials
(``POSTGRES_ADMIN_URL``, ``RABBITMQ_ADMIN_URL``) and each service's own URLs, the ones the
service connects with (``AUTH_DATABASE_URL``, ``AUTH_RABBITMQ_URL`` or ``RABBITMQ_URL``, ...):
the user, password, database and virtual host named there are what it creates. Every step
is idempotent: run again, it changes nothing but a password that changed in a URL.

For each database URL: the role (LOGIN, no other attribute), the database owned by it, no
CONNECT for anyone else (so no other service's role can even open it), and every object
already in it handed over to the role (a database made before, by the superuser). A URL
that names a superuser is left alone and reported: the service then runs as the superuser.

For each broker URL: the virtual host, the user (password from the URL, no tags, so no
management access), its permissions on that virtual host, and its topic permissions on the
topic exchanges: the routing keys it may publish. A URL naming a user tagged
``administrator`` (the development ``guest``) is left alone and reported. In each of those
virtual hosts, whoever the user: the shared durable topology of
``tracker_contracts.messaging`` (every exchange, queue and binding of ``EXCHANGES`` and
``QUEUES``), declared here because no service may declare it (:func:`provision_topology`,
which the tests and benchmarks use for their own virtual hosts too), and the retired queues
deleted. All of it is one definitions document, imported at once, which adds what is
missing and leaves what exists as it is.
"""

import asyncio
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from base64 import b64encode
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Protocol
from urllib.parse import quote, unquote, urlsplit

import asyncpg
from pydantic import Field
from sqlalchemy.engine import make_url

from tracker_contracts.messaging import EXCHANGES, QUEUES, RETIRED_QUEUES
from tracker_contracts.permissions import (
    BROKER_PERMISSIONS,
    TOPIC_EXCHANGES,
    BrokerPermissions,
)
from tracker_runtime.database import libpq_dsn
from tracker_runtime.logging import configure_logging
from tracker_runtime.settings import (
    FROM_FILE,
    AmqpUrl,
    AsyncpgUrl,
    ProcessSettings,
    PsycopgUrl,
    broker_url,
    load_settings,
)

logger = logging.getLogger("tracker.provision")

DATABASE_SERVICES = ("auth", "tasks", "notifier")
"""The services with a database (the scheduler has none)."""


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


# -- PostgreSQL ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DatabaseAccount:
    """A service's role and database, as its database URL names them."""

    role: str
    password: str | None
    database: str

    @classmethod
    def from_url(cls, url: str) -> "DatabaseAccount":
        parsed = make_url(url)
        if not parsed.username or not parsed.database:
            raise ValueError(f"{parsed!r} names no user or no database")
        return cls(parsed.username, parsed.password, parsed.database)


OWNED_RELATIONS = """
SELECT c.relkind::text, quote_ident(n.nspname) || '.' || quote_ident(c.relname)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relowner <> $1::regrole
  AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
ORDER BY c.relkind = 'S'
"""
OWNED_TYPES = """
SELECT t.oid::regtype::text FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE n.nspname = 'public' AND t.typowner <> $1::regrole AND t.typtype IN ('e', 'd')
"""
OWNED_FUNCTIONS = """
SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'public' AND p.proowner <> $1::regrole
"""
RELATION_KINDS = {
    "r": "TABLE",
    "p": "TABLE",
    "v": "VIEW",
    "m": "MATERIALIZED VIEW",
    "f": "FOREIGN TABLE",
    "S": "SEQUENCE",
}


async def _ensure_role(admin: asyncpg.Connection, account: DatabaseAccount) -> bool:
    """Create or update the role; False when it is a superuser (left alone)."""
    role = quote_identifier(account.role)
    password = "NULL" if account.password is None else quote_literal(account.password)
    superuser = await admin.fetchval(
        "SELECT rolsuper FROM pg_roles WHERE rolname = $1", account.role
    )
    if superuser:
        logger.warning("postgres: %s is a superuser: left as it is", account.role)
        return False
    attributes = f"LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION PASSWORD {password}"
    if superuser is None:
        try:
            await admin.execute(f"CREATE ROLE {role} {attributes}")
            logger.info("postgres: created role %s", account.role)
            return True
        except asyncpg.DuplicateObjectError:
            pass  # another provisioning created it in the meantime
    await admin.execute(f"ALTER ROLE {role} {attributes}")
    return True


async def _ensure_database(admin: asyncpg.Connection, account: DatabaseAccount) -> None:
    role, database = quote_identifier(account.role), quote_identifier(account.database)
    owner = await admin.fetchval(
        "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1", account.database
    )
    if owner is None:
        try:
            await admin.execute(f"CREATE DATABASE {database} OWNER {role}")
            logger.info("postgres: created database %s", account.database)
        except asyncpg.DuplicateDatabaseError:
            owner = ""
    if owner is not None and owner != account.role:
        await admin.execute(f"ALTER DATABASE {database} OWNER TO {role}")
        logger.info("postgres: database %s now belongs to %s", account.database, account.role)
    await admin.execute(f"REVOKE ALL ON DATABASE {database} FROM PUBLIC")


async def _hand_over_objects(connection: asyncpg.Connection, role_name: str) -> None:
    """Make ``role_name`` own the schema and every object in it (a database created and
    migrated by the superuser before, say). A sequence that belongs to a column goes with
    its table, so the tables come first."""
    role = quote_identifier(role_name)
    await connection.execute(f"ALTER SCHEMA public OWNER TO {role}")
    await connection.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    moved = 0
    for kind, name in await connection.fetch(OWNED_RELATIONS, role_name):
        if kind == "S":
            still_foreign = await connection.fetchval(
                "SELECT relowner <> $1::regrole FROM pg_class WHERE oid = $2::regclass",
                role_name,
                name,
            )
            if not still_foreign:
                continue
        await connection.execute(f"ALTER {RELATION_KINDS[kind]} {name} OWNER TO {role}")
        moved += 1
    for (name,) in await connection.fetch(OWNED_TYPES, role_name):
        await connection.execute(f"ALTER TYPE {name} OWNER TO {role}")
        moved += 1
    for (name,) in await connection.fetch(OWNED_FUNCTIONS, role_name):
        await connection.execute(f"ALTER FUNCTION {name} OWNER TO {role}")
        moved += 1
    if moved:
        logger.info("postgres: handed %d existing objects over to %s", moved, role_name)


async def provision_database(admin_url: str, account: DatabaseAccount) -> bool:
    """The role and database of ``account``; False when the role is a superuser."""
    admin = await _connect(admin_url)
    try:
        if not await _ensure_role(admin, account):
            return False
        await _ensure_database(admin, account)
    finally:
        await admin.close()
    connection = await _connect(libpq_dsn(admin_url, account.database))
    try:
        await _hand_over_objects(connection, account.role)
    finally:
        await connection.close()
    logger.info("postgres: %s owns %s; no other role may connect", account.role, account.database)
    return True


async def _connect(url: str, *, wait_seconds: float = 60.0) -> asyncpg.Connection:
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            return await asyncpg.connect(libpq_dsn(url), timeout=5)
        except (OSError, asyncpg.CannotConnectNowError) as error:
            if time.monotonic() > deadline:
                raise
            logger.info("waiting for PostgreSQL: %s", error)
            await asyncio.sleep(1)


# -- RabbitMQ -----------------------------------------------------------------------------


@dataclass(frozen=True)
class BrokerAccount:
    """A service's RabbitMQ user and virtual host, as its broker URL names them."""

    user: str
    password: str
    vhost: str

    @classmethod
    def from_url(cls, url: str) -> "BrokerAccount":
        parts = urlsplit(url)
        if not parts.username:
            raise ValueError("the broker URL names no user")
        vhost = unquote(parts.path[1:]) if len(parts.path) > 1 else "/"
        return cls(unquote(parts.username), unquote(parts.password or ""), vhost)


def password_hash(password: str) -> str:
    """``password`` as RabbitMQ stores it (``rabbit_password_hashing_sha256``: a random
    4-byte salt, then SHA-256 of the salt and the password, in base 64), so that the
    definitions carry no password in clear."""
    salt = os.urandom(4)
    return b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def topology_definitions(vhosts: Iterable[str]) -> dict[str, list[dict[str, object]]]:
    """RabbitMQ definitions of the shared durable topology in each of ``vhosts``: the
    exchanges, queues (with their pinned arguments) and bindings of
    ``tracker_contracts.messaging``, all durable."""
    chosen = sorted(set(vhosts))
    return {
        "exchanges": [
            {
                "name": exchange.name,
                "vhost": vhost,
                "type": exchange.type,
                "durable": True,
                "auto_delete": False,
                "internal": False,
                "arguments": exchange.arguments,
            }
            for vhost in chosen
            for exchange in EXCHANGES
        ],
        "queues": [
            {
                "name": queue.name,
                "vhost": vhost,
                "durable": True,
                "auto_delete": False,
                "arguments": queue.arguments,
            }
            for vhost in chosen
            for queue in QUEUES
        ],
        "bindings": [
            {
                "source": exchange,
                "vhost": vhost,
                "destination": queue.name,
                "destination_type": "queue",
                "routing_key": routing_key,
                "arguments": {},
            }
            for vhost in chosen
            for queue in QUEUES
            for exchange, routing_key in queue.bindings
        ],
    }


def definitions(
    accounts: list[tuple[BrokerAccount, BrokerPermissions]], vhosts: Iterable[str] = ()
) -> dict[str, object]:
    """RabbitMQ definitions of these users, their virtual hosts and their permissions, and
    of the shared topology in ``vhosts``: one document imported at once
    (``rabbitmqctl import_definitions`` or the management API's ``POST /api/definitions``),
    which adds or updates what it names and nothing else (an existing queue is left as it
    is)."""
    every_vhost = sorted({*vhosts, *(account.vhost for account, _ in accounts)})
    return {
        "vhosts": [{"name": vhost} for vhost in every_vhost],
        "users": [
            {
                "name": account.user,
                "password_hash": password_hash(account.password),
                "hashing_algorithm": "rabbit_password_hashing_sha256",
                "tags": [],
            }
            for account, _ in accounts
        ],
        "permissions": [
            {
                "user": account.user,
                "vhost": account.vhost,
                "configure": permissions.configure_pattern,
                "write": permissions.write_pattern,
                "read": permissions.read_pattern,
            }
            for account, permissions in accounts
        ],
        "topic_permissions": [
            {
                "user": account.user,
                "vhost": account.vhost,
                "exchange": exchange,
                "write": permissions.topic_write_pattern(exchange),
                "read": permissions.topic_read_pattern(exchange),
            }
            for account, permissions in accounts
            for exchange in TOPIC_EXCHANGES
        ],
        **topology_definitions(vhosts),
    }


class BrokerAdministration(Protocol):
    """What provisioning asks of RabbitMQ: through ``rabbitmqctl`` on this machine, or the
    management HTTP API elsewhere."""

    def administrators(self) -> set[str]:
        """The users tagged ``administrator``."""
        ...

    def import_definitions(self, document: dict[str, object]) -> None: ...

    def delete_queue(self, vhost: str, name: str) -> None:
        """Delete the queue ``name`` of ``vhost``, if there is one."""
        ...

    def queue_arguments(self, vhost: str) -> dict[str, dict[str, object]]:
        """The arguments of every queue of ``vhost``, by the queue's name."""
        ...


class ProvisioningError(RuntimeError):
    """The server refused or failed a provisioning step."""


class Rabbitmqctl:
    """RabbitMQ on this machine, through ``rabbitmqctl`` (the server's own tool; needs the
    node's Erlang cookie, which root and the rabbitmq user have)."""

    def __init__(self, executable: str | None = None) -> None:
        self._executable = executable or shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"

    def _run(self, *arguments: str, given: str | None = None, missing_ok: bool = False) -> str:
        result = subprocess.run(  # noqa: S603 (the server's own tool, no shell)
            [self._executable, "-q", *arguments],
            input=given,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        said = result.stderr.strip() or result.stdout
        if result.returncode != 0 and not (missing_ok and "not found" in said):
            raise ProvisioningError(f"rabbitmqctl {arguments[0]} failed: {said}")
        return result.stdout

    def administrators(self) -> set[str]:
        listed = self._run("list_users", "--no-table-headers")
        rows = [line.split("\t") for line in listed.splitlines() if line.strip()]
        return {row[0] for row in rows if len(row) > 1 and "administrator" in row[1]}

    def import_definitions(self, document: dict[str, object]) -> None:
        # From standard input: the tool runs as the rabbitmq user, who could not read a
        # file of ours.
        self._run("import_definitions", "--format", "json", given=json.dumps(document))

    def delete_queue(self, vhost: str, name: str) -> None:
        self._run("-p", vhost, "delete_queue", name, missing_ok=True)

    def queue_arguments(self, vhost: str) -> dict[str, dict[str, object]]:
        listed = self._run("-p", vhost, "list_queues", "name", "arguments", "--formatter", "json")
        # Each argument comes as [name, AMQP type, value].
        return {
            str(row["name"]): {str(name): value for name, _type, value in row["arguments"]}
            for row in json.loads(listed or "[]")
        }


class ManagementApi:
    """RabbitMQ's management HTTP API at ``url`` (``http://admin:password@host:15672/``)."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or not parts.username:
            raise ValueError("RABBITMQ_ADMIN_URL: needs http://user:password@host:15672/")
        credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        self._authorization = "Basic " + b64encode(credentials.encode()).decode()
        netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
        self._base = f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}/api"

    def _request(
        self, method: str, path: str, body: object = None, *, missing_ok: bool = False
    ) -> object:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 (the scheme is checked: http or https)
            self._base + path,
            data=data,
            method=method,
            headers={"Authorization": self._authorization, "Content-Type": "application/json"},
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                    content = response.read()
                    return json.loads(content) if content else None
            except urllib.error.HTTPError as error:
                if missing_ok and error.code == 404:
                    return None
                raise ProvisioningError(
                    f"RabbitMQ's API answered {error.code} to {method} {path}: "
                    f"{error.read().decode(errors='replace')}"
                ) from None
            except OSError as error:
                if time.monotonic() > deadline:
                    raise ProvisioningError(f"cannot reach RabbitMQ's API: {error}") from None
                logger.info("waiting for RabbitMQ's management API: %s", error)
                time.sleep(1)

    def administrators(self) -> set[str]:
        users = self._request("GET", "/users")
        found: set[str] = set()
        for user in users if isinstance(users, list) else []:
            tags = user.get("tags", [])
            if "administrator" in (tags if isinstance(tags, list) else str(tags).split(",")):
                found.add(str(user["name"]))
        return found

    def import_definitions(self, document: dict[str, object]) -> None:
        self._request("POST", "/definitions", document)

    def delete_queue(self, vhost: str, name: str) -> None:
        path = f"/queues/{quote(vhost, safe='')}/{quote(name, safe='')}"
        self._request("DELETE", path, missing_ok=True)

    def queue_arguments(self, vhost: str) -> dict[str, dict[str, object]]:
        queues = self._request("GET", f"/queues/{quote(vhost, safe='')}?columns=name,arguments")
        return {
            str(queue["name"]): dict(queue.get("arguments") or {})
            for queue in (queues if isinstance(queues, list) else [])
        }


def broker_administration(admin_url: str) -> BrokerAdministration:
    """The management API at ``admin_url``, or ``rabbitmqctl`` here when it is empty."""
    return ManagementApi(admin_url) if admin_url else Rabbitmqctl()


def _differing(vhost: str, found: dict[str, dict[str, object]]) -> list[str]:
    """The queues of the shared topology in ``found`` (a virtual host's queues and their
    arguments) whose arguments are not the contract's."""
    return [
        f"{queue.name} in {vhost!r} has {found[queue.name]}, the contract {queue.arguments}"
        for queue in QUEUES
        if queue.name in found and found[queue.name] != queue.arguments
    ]


def provision_topology(
    admin: BrokerAdministration,
    vhosts: Iterable[str],
    accounts: list[tuple[BrokerAccount, BrokerPermissions]] | None = None,
) -> None:
    """The shared durable topology in each of ``vhosts`` (with the users of ``accounts``
    and their permissions), imported as one document; then the retired queues
    (``messaging.RETIRED_QUEUES``) deleted where they are.

    Importing leaves an existing queue as it is, and RabbitMQ cannot change a queue's
    arguments, so a queue of the topology whose arguments are not the contract's raises
    :class:`ProvisioningError`, naming it: it must be emptied (or its messages moved) and
    deleted, then provisioning run again. The tests' and benchmarks' own virtual hosts get
    their topology here too (``devsupport.rabbitmq``)."""
    chosen = sorted(set(vhosts))
    admin.import_definitions(definitions(accounts or [], chosen))
    differing = []
    for vhost in chosen:
        found = admin.queue_arguments(vhost)
        differing += _differing(vhost, found)
        for name in RETIRED_QUEUES:
            if name in found:
                admin.delete_queue(vhost, name)
    if differing:
        raise ProvisioningError(
            "queues declared with other arguments than the contract's (empty and delete "
            "them, then provision again): " + "; ".join(differing)
        )


def provision_broker(
    admin: BrokerAdministration, accounts: list[tuple[BrokerAccount, BrokerPermissions]]
) -> list[BrokerAccount]:
    """The users of ``accounts`` with their permissions, but administrators (left alone),
    and the shared topology in every virtual host they name; returns the accounts
    provisioned."""
    administrators = admin.administrators()
    restricted = []
    for account, permissions in accounts:
        if account.user in administrators:
            logger.warning("rabbitmq: %s is an administrator: left as it is", account.user)
        else:
            restricted.append((account, permissions))
    vhosts = sorted({account.vhost for account, _ in accounts})
    if vhosts:
        provision_topology(admin, vhosts, restricted)
        logger.info("rabbitmq: the shared topology is declared in %s", ", ".join(vhosts))
    for account, permissions in restricted:
        logger.info(
            "rabbitmq: %s on %s may publish %s",
            account.user,
            account.vhost,
            permissions.publishes or "nothing",
        )
    return [account for account, _ in restricted]


# -- the command --------------------------------------------------------------------------


class ProvisionSettings(ProcessSettings):
    """The administrator's credentials and every service's own URLs (DESIGN.md section 6
    names them), each of which may be given as a file (``<NAME>_FILE``)."""

    postgres_admin_url: Annotated[
        str,
        FROM_FILE,
        Field(
            validation_alias="POSTGRES_ADMIN_URL",
            description="A PostgreSQL role that may create roles and databases.",
            examples=["postgresql://postgres@localhost:5432/postgres"],
        ),
    ] = "postgresql://postgres@localhost:5432/postgres"
    rabbitmq_admin_url: Annotated[
        str,
        FROM_FILE,
        Field(
            validation_alias="RABBITMQ_ADMIN_URL",
            description="RabbitMQ's management API with an administrator's credentials; "
            "empty: rabbitmqctl on this machine.",
            examples=["http://admin:password@rabbitmq:15672/"],
        ),
    ] = ""
    auth_database_url: Annotated[
        AsyncpgUrl | None, FROM_FILE, Field(validation_alias="AUTH_DATABASE_URL")
    ] = None
    tasks_database_url: Annotated[
        AsyncpgUrl | None, FROM_FILE, Field(validation_alias="TASKS_DATABASE_URL")
    ] = None
    notifier_database_url: Annotated[
        PsycopgUrl | None, FROM_FILE, Field(validation_alias="NOTIFIER_DATABASE_URL")
    ] = None
    auth_rabbitmq_url: Annotated[AmqpUrl | None, FROM_FILE, broker_url("AUTH_")] = None
    tasks_rabbitmq_url: Annotated[AmqpUrl | None, FROM_FILE, broker_url("TASKS_")] = None
    notifier_rabbitmq_url: Annotated[AmqpUrl | None, FROM_FILE, broker_url("NOTIFIER_")] = None
    scheduler_rabbitmq_url: Annotated[AmqpUrl | None, FROM_FILE, broker_url("SCHEDULER_")] = None

    def database_url(self, service: str) -> str | None:
        url: str | None = getattr(self, f"{service}_database_url")
        return url

    def rabbitmq_url(self, service: str) -> str | None:
        url: str | None = getattr(self, f"{service}_rabbitmq_url")
        return url


def provision(settings: ProvisionSettings) -> None:
    """Every service's role and database, and every service's RabbitMQ user."""
    for service in DATABASE_SERVICES:
        url = settings.database_url(service)
        if url is None:
            logger.warning("postgres: no database URL for %s: nothing to do", service)
            continue
        asyncio.run(provision_database(settings.postgres_admin_url, DatabaseAccount.from_url(url)))
    accounts = []
    for service, permissions in BROKER_PERMISSIONS.items():
        url = settings.rabbitmq_url(service)
        if url is None:
            logger.warning("rabbitmq: no broker URL for %s: nothing to do", service)
            continue
        accounts.append((BrokerAccount.from_url(url), permissions))
    provision_broker(broker_administration(settings.rabbitmq_admin_url), accounts)


def main() -> None:
    settings = load_settings(ProvisionSettings, process="provision")
    configure_logging(settings.log_level, json_lines=settings.log_json)
    try:
        provision(settings)
    except (ProvisioningError, OSError, asyncpg.PostgresError, ValueError) as error:
        print(f"provision: {error}", file=sys.stderr)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
