"""`make dev` refuses clearly: with the stack already running, every port it needs is taken,
and a bad setting stops it before anything starts; either way one line per problem, naming
the variable to change, and no traceback."""

import re

from tests.conftest import LISTENING, Stack

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
        RABBITMQ_URL="localhost:5672",
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
        "RABBITMQ_URL",
        "DEFAULT_TIMEZONE",
    }, output
    assert "Not valid JSON" in by_variable["AUTH_SERVICE_CLIENTS"]
    assert '{"notifier": {"secret":' in by_variable["AUTH_SERVICE_CLIENTS"]
    assert "'starttls'" in by_variable["SMTP_SECURITY"]
    assert "amqp://" in by_variable["RABBITMQ_URL"]
    assert "Europe/Berlin" in by_variable["DEFAULT_TIMEZONE"]
    assert "Traceback" not in output
    assert "prestart" not in result.stdout, "nothing starts with a bad setting"
