"""Schemathesis against the OpenAPI descriptions of auth and tasks: requests generated from
each operation's schema, both fitting it (positive) and breaking it (negative), sent
authenticated as a registered user, must never get a 5xx, nor a response that
contradicts the schema (an undocumented status, another content type, a body that does
not match).

Each operation gets at most ``MAX_EXAMPLES`` requests per mode, to keep the run short on a
small machine. The generation is derandomized, so that `make test` tries the same inputs
every time and a red run is reproducible; ``CONTRACT_EXPLORE=1`` lets each run try other
inputs, to look for new failures. Every operation
is run even when an earlier one failed, and the failures are reported together, with a
line per operation of what was tried.
"""

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from .conftest import Server, Stack

MAX_EXAMPLES = 10
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
SKIPPED = {
    # Ends the session that every other request of the run is authenticated with.
    "DELETE /api/session",
    # A stream that never ends by itself (services/tasks/tests/live covers it).
    "GET /api/tasks/events",
}
logger = logging.getLogger("tests.contract")


@dataclass
class Report:
    service: str
    tried: dict[str, int] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        lines = [
            f"{self.service}: {len(self.tried)} operations, {sum(self.tried.values())} "
            f"requests, checks: {', '.join(check.__name__ for check in CHECKS)}"
        ]
        lines += [f"  {operation}: {count} requests" for operation, count in self.tried.items()]
        return "\n".join(lines)


def exercise(service: str, server: Server, headers: dict[str, str]) -> Report:
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    report = Report(service)
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            report.failures[f"invalid operation {len(report.failures)}"] = str(result.err())
            continue
        operation = result.ok()
        label = f"{operation.method.upper()} {operation.path}"
        if label in SKIPPED:
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            name = f"{label} ({mode.value})"
            report.tried[name] = 0
            try:
                run_examples(
                    operation.as_strategy(generation_mode=mode), server, headers, name, report
                )
            except Unsatisfiable:
                # Nothing to break: an operation without parameters or body has no
                # negative case (its one positive case ran in the other mode).
                if mode is not GenerationMode.NEGATIVE:
                    raise
            except BaseException as error:  # a failed check: collected, the others still run
                if isinstance(error, KeyboardInterrupt):
                    raise
                report.failures[name] = f"{type(error).__name__}: {error}"
    print(report.summary())  # the figures the run reports, with -s
    return report


EXPLORE = os.environ.get("CONTRACT_EXPLORE") == "1"
"""Random inputs on every run instead of the same ones."""


def run_examples(
    strategy: Any, server: Server, headers: dict[str, str], name: str, report: Report
) -> None:
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        derandomize=not EXPLORE,
    )
    @given(case=strategy)
    def check(case: Any) -> None:
        report.tried[name] += 1
        case.call_and_validate(base_url=server.url, headers=headers, checks=CHECKS)

    call: Callable[[], None] = check
    call()


def assert_kept(report: Report) -> None:
    assert not report.failures, "\n\n".join(
        f"{name}:\n{failure}" for name, failure in report.failures.items()
    )


def test_auth_keeps_its_contract(stack: Stack) -> None:
    assert_kept(exercise("auth", stack.auth, stack.headers))


def test_tasks_keeps_its_contract(stack: Stack) -> None:
    assert_kept(exercise("tasks", stack.tasks, stack.headers))
