"""`make dev` refuses clearly: with the stack already running, every port it needs is taken,
and a bad setting stops it before anything starts; either way one line per problem, naming
the variable to change, and no traceback. And what it starts runs with least privilege."""

import re

import psycopg
from sqlalchemy.engine import make_url

from devsupport.rabbitmq import rabbitmqctl
from tests.conftest import (
    AUTH_DATABASE,
    BROKER_USERS,
    E2E_VHOST,
    LISTENING,
    NOTIFIER_DATABASE,
    TASKS_DATABASE,
    Stack,
)
from tests.support import run

TAKEN = re.compile(r"port (\d+) is already in use; stop what listens there or set (\w+)")
PROBLEM = re.compile(r"^([A-Z][A-Z0-9_]+)(?: at \S+)?: (.+) \[([a-z ,]+)\]$", re.MULTILINE)
"""A configuration problem as `make dev` reports it: the variable, what is wrong (with an
example), and the processes it stops."""


def test_ports_in_use_are_each_named_with_the_variable_that_moves_them(stack: Stack) -> None:
    result = stack.shell("make dev", timeout=300)
    output = result.stdout + result.stderr

    assert result.returncode != 0
    taken = {variable: int(port) for port, variable in TAKEN.findall(result.stderr)}
    assert taken == {variable: int(stack.environment[variable]) for variable in LISTENING}, output
    assert "Traceback" not in output
    assert "prestart" not in result.stdout, "nothing starts while a port is taken"


def test_bad_settings_are_each_named_with_an_example(stack: Stack) -> None:
    result = stack.shell(
        "make dev",
        timeout=300,
        AUTH_SERVICE_CLIENTS="notifier: dev-notifier-secret",
        SMTP_SECURITY="ssl",
        AUTH_RABBITMQ_URL="localhost:5672",
        DEFAULT_TIMEZONE="Mars/Olympus_Mons",
    )
    output = result.stdout + result.stderr

    assert result.returncode != 0
    problems = PROBLEM.findall(result.stderr)
    assert len(problems) == 4, output
    by_variable = {variable: message for variable, message, _ in problems}
    assert set(by_variable) == {
        "AUTH_SERVICE_CLIENTS",
        "SMTP_SECURITY",
        "AUTH_RABBITMQ_URL",
        "DEFAULT_TIMEZONE",
    }, output
    assert "Not valid JSON" in by_variable["AUTH_SERVICE_CLIENTS"]
    assert '{"notifier": {"secret":' in by_variable["AUTH_SERVICE_CLIENTS"]
    assert "'starttls'" in by_variable["SMTP_SECURITY"]
    assert "amqp://" in by_variable["AUTH_RABBITMQ_URL"]
    assert "Europe/Berlin" in by_variable["DEFAULT_TIMEZONE"]
    assert "Traceback" not in output
    assert "prestart" not in result.stdout, "nothing starts with a bad setting"


def test_each_service_runs_as_its_own_role_and_broker_user(stack: Stack) -> None:
    """`make dev` provisions a role per database and a broker user per service, and the
    services connect as those, never as the administrators."""
    roles = {
        make_url(url).database: make_url(url).username
        for url in (AUTH_DATABASE, TASKS_DATABASE, NOTIFIER_DATABASE)
    }
    with psycopg.connect(run.POSTGRES, autocommit=True) as connection:
        sessions = connection.execute(
            "SELECT DISTINCT datname, usename FROM pg_stat_activity WHERE datname = ANY(%s)",
            (list(roles),),
        ).fetchall()
    assert {database for database, _ in sessions} == set(roles), sessions
    assert all(roles[database] == user for database, user in sessions), sessions

    listed = rabbitmqctl("list_connections", "user", "vhost", "--no-table-headers").stdout
    users = {
        user
        for user, vhost in (line.split("\t") for line in listed.splitlines() if line.strip())
        if vhost == run.vhost(E2E_VHOST)
    }
    assert users == {run.vhost(user) for user in BROKER_USERS.values()}, listed
