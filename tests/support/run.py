"""What one test run creates on the machine's shared servers, named after the run.

Every database, PostgreSQL role, RabbitMQ virtual host and RabbitMQ user a run uses
carries the run's id (``run<pid>`` of the pytest process), so two runs side by side, or a
run beside `make dev`, never meet. The run drops them when it ends, and at its start drops
those of earlier runs whose process is gone (a run that was killed).
"""

import os
import re
import subprocess
import warnings
from urllib.parse import quote

import psycopg
from psycopg import sql

from devsupport.rabbitmq import one_vhost_change_at_a_time, rabbitmqctl
from tracker_runtime.settings import ENV_FILE_VARIABLE

RUN_ID = os.environ.setdefault("TRACKER_TEST_RUN", f"run{os.getpid()}")
POSTGRES = "postgresql://postgres@localhost:5432/postgres"
RABBITMQ = "amqp://guest:guest@localhost:5672"
ROLE_PASSWORD = "test-password"
"""The password of the run's roles and users (PostgreSQL here trusts local connections)."""
_OWNER = re.compile(r"[_-]run(\d+)$")


def database(name: str) -> str:
    return f"{name}_{RUN_ID}"


def database_url(name: str, driver: str = "asyncpg") -> str:
    """A SQLAlchemy URL of this run's database ``name`` on the local PostgreSQL."""
    return f"postgresql+{driver}://postgres@localhost:5432/{database(name)}"


def role_url(name: str, driver: str = "asyncpg") -> str:
    """A SQLAlchemy URL of this run's database ``name`` as a role of the same name, which
    ``tracker_runtime.provision`` creates to own it (a service's least privilege)."""
    role = database(name)
    return f"postgresql+{driver}://{role}:{ROLE_PASSWORD}@localhost:5432/{role}"


def user_vhost_url(user: str, vhost_name: str) -> str:
    """The URL of this run's RabbitMQ virtual host ``vhost_name`` as this run's user
    ``user``, which ``tracker_runtime.provision`` creates."""
    return f"amqp://{quote(vhost(user), safe='')}:{ROLE_PASSWORD}@localhost:5672/" + quote(
        vhost(vhost_name), safe=""
    )


def vhost(name: str) -> str:
    return f"{name}-{RUN_ID}"


def vhost_url(name: str) -> str:
    """The URL of this run's RabbitMQ virtual host ``name``."""
    return f"{RABBITMQ}/{quote(vhost(name), safe='')}"


def environment() -> dict[str, str]:
    """The variables that point every test suite at this run's databases and virtual hosts
    (each suite's conftest reads its own)."""
    rabbitmq = vhost_url("tracker-test")
    return {
        "AUTH_TEST_DATABASE_URL": database_url("tracker_auth_test"),
        "TASKS_TEST_DATABASE_URL": database_url("tracker_tasks_test"),
        "TASKS_AUTH_TEST_DATABASE_URL": database_url("tracker_auth_tasks_test"),
        "NOTIFIER_TEST_DATABASE_URL": database_url("tracker_notifier_test", "psycopg"),
        "RUNTIME_TEST_DATABASE_URL": database_url("tracker_runtime_test"),
        "TEST_RABBITMQ_URL": rabbitmq,
        "SCHEDULER_TEST_RABBITMQ_URL": vhost_url("tracker-scheduler-test"),
        "RABBITMQ_URL": rabbitmq,
        "TRACKER_TEST_RUN": RUN_ID,
        # A developer's .env is for their `make dev`, not for the tests' settings.
        ENV_FILE_VARIABLE: "",
        # No metrics servers in the worker and beat the tests start, unless a test asks for
        # one on a free port: the fixed default ports would collide between runs.
        "NOTIFIER_METRICS_PORT": "0",
        "SCHEDULER_METRICS_PORT": "0",
    }


def _owner_gone(name: str) -> bool:
    match = _OWNER.search(name)
    if match is None:
        return False
    try:
        os.kill(int(match.group(1)), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _vhosts() -> list[str]:
    listed = rabbitmqctl("list_vhosts", "--no-table-headers")
    return [line.strip() for line in listed.stdout.splitlines() if line.strip()]


def _users() -> list[str]:
    listed = rabbitmqctl("list_users", "--no-table-headers")
    return [line.split("\t")[0] for line in listed.stdout.splitlines() if line.strip()]


def _databases(connection: psycopg.Connection) -> list[str]:
    rows = connection.execute("SELECT datname FROM pg_database WHERE datname LIKE 'tracker%%'")
    return [row[0] for row in rows]


def _roles(connection: psycopg.Connection) -> list[str]:
    rows = connection.execute("SELECT rolname FROM pg_roles WHERE rolname LIKE 'tracker%%'")
    return [row[0] for row in rows]


def drop(*, this_run: bool = True, abandoned: bool = False) -> list[str]:
    """Drop this run's databases, roles, virtual hosts and users, and (``abandoned``) those
    of runs whose process is gone; returns what was dropped."""

    def doomed(name: str) -> bool:
        mine = name.endswith((f"_{RUN_ID}", f"-{RUN_ID}"))
        return (this_run and mine) or (abandoned and _owner_gone(name))

    dropped: list[str] = []
    with psycopg.connect(POSTGRES, autocommit=True) as connection:
        for name in filter(doomed, _databases(connection)):
            statement = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)
            )
            connection.execute(statement)
            dropped.append(name)
        for name in filter(doomed, _roles(connection)):
            # A run's role owns nothing but its database, dropped above.
            try:
                connection.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))
            except psycopg.errors.DependentObjectsStillExist as error:
                warnings.warn(f"role {name} is still in use: {error}", stacklevel=2)
                continue
            dropped.append(name)
    for name in filter(doomed, _users()):
        if name.startswith("tracker"):
            rabbitmqctl("delete_user", name)
            dropped.append(name)
    with one_vhost_change_at_a_time():
        for name in filter(doomed, _vhosts()):
            try:
                rabbitmqctl("delete_vhost", name, timeout=300)
            except subprocess.TimeoutExpired:
                # Left for the next run's start, which drops what dead runs left behind.
                warnings.warn(f"RabbitMQ did not delete {name} in time", stacklevel=2)
                continue
            dropped.append(name)
    return dropped
