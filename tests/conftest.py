"""The stack as a newcomer runs it: `make dev` itself, in a fresh clone of this checkout.

The clone holds what `git clone` would give plus the working changes (tracked changes and
new files that are not ignored), and nothing git ignores: no `.env`, virtualenv, npm packages
or built web app. `make dev` installs them, creates `.env` from `.env.example` and starts
every process, exactly as the README says. The test's environment sets only what must
differ for tests to run beside anything else on the machine: ports, the SMTP target, the
database and virtual host names; and a digest schedule that never fires by itself, so that
the tests choose the instants (a tick at the real time would mail their users). Everything
else comes from `.env`, which the processes read themselves: a process that lets `.env`
override the environment, or parses it differently, breaks this stack.

The stack is started, stopped with Ctrl-C (SIGINT to its process group, as a terminal
sends it) and started again before the tests use it: `make dev` must start cleanly twice.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from pathlib import Path

import httpx
import psycopg
import pytest

from devsupport.network import free_port, wait_until_healthy
from devsupport.processes import spawn, stop_process
from devsupport.rabbitmq import ensure_rabbitmq_vhost
from tests.support import run
from tracker_auth.config import Settings as AuthSettings
from tracker_runtime.database import libpq_dsn

ROOT = Path(__file__).resolve().parents[1]
AUTH_DATABASE = run.role_url("tracker_auth_e2e")
TASKS_DATABASE = run.role_url("tracker_tasks_e2e")
NOTIFIER_DATABASE = run.role_url("tracker_notifier_e2e", "psycopg")
"""Each service's database as its own role, which `make dev` creates to own it."""
BROKER_USERS = {
    service: f"tracker-{service}-e2e" for service in ("auth", "tasks", "notifier", "scheduler")
}
"""Each service's RabbitMQ user (this run's, see ``run.user_vhost_url``)."""
E2E_VHOST = "tracker-e2e"
NOT_A_NEWCOMERS = ("VIRTUAL_ENV", "MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES")
"""Variables of this test run and the make around it, which a newcomer's shell has not."""
MAX_FAILURES = AuthSettings.model_fields["login_max_failures_per_account"].default
"""Failed logins the stack allows per account (`.env.example` keeps the default)."""
READY_WITHIN = 300.0
"""Seconds for `make dev` in a fresh clone: installing, building, migrating, starting."""
LISTENING = (
    "AUTH_PORT",
    "TASKS_PORT",
    "GATEWAY_PORT",
    "MAIL_CATCHER_PORT",
    "NOTIFIER_METRICS_PORT",
    "SCHEDULER_METRICS_PORT",
)
"""The variables of the ports the stack listens on (the worker and beat for their metrics)."""


def _git(*arguments: str) -> list[str]:
    result = subprocess.run(
        ["git", *arguments, "-z"], cwd=ROOT, capture_output=True, check=True, text=True
    )
    return [path for path in result.stdout.split("\0") if path]


def fresh_checkout(destination: Path) -> Path:
    """A clone of this repository with the working changes, as a newcomer would get it."""
    subprocess.run(
        ["git", "clone", "--quiet", str(ROOT), str(destination)], check=True, timeout=120
    )
    deleted = set(_git("ls-files", "--deleted"))
    for path in _git("ls-files", "--cached", "--others", "--exclude-standard"):
        if path not in deleted:
            (destination / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / path, destination / path)
    for path in deleted:
        (destination / path).unlink(missing_ok=True)
    return destination


def newcomer_environment(overrides: dict[str, str]) -> dict[str, str]:
    """The shell of a person on this machine who just cloned the repository (this
    machine's environment without this checkout's virtualenv and tools, or the settings
    of this test run), plus ``overrides``."""
    left_out = {*NOT_A_NEWCOMERS, *run.environment()}
    shell = {
        name: value
        for name, value in os.environ.items()
        if name not in left_out and not name.startswith(("UV_", "PYTEST_"))
    }
    shell["PATH"] = os.pathsep.join(
        entry
        for entry in os.environ.get("PATH", "").split(os.pathsep)
        if entry and not entry.startswith(str(ROOT))
    )
    return {**shell, **overrides}


@dataclass(frozen=True)
class Stack:
    checkout: Path
    """The fresh clone `make dev` runs in."""
    gateway: str
    environment: dict[str, str]
    """What the tests set on top of a newcomer's shell."""
    log: Path

    @property
    def mail(self) -> Path:
        """Where the stack's mail catcher stores each message, as the README says."""
        return self.checkout / ".run" / "mail"

    def url(self, service: str) -> str:
        """The address of ``auth`` or ``tasks`` itself, behind the gateway."""
        return f"http://{self.environment[f'{service.upper()}_UPSTREAM']}"

    def metrics_url(self, process: str) -> str:
        """Where the ``notifier`` (its worker) or the ``scheduler`` (beat) serves its
        metrics; auth and tasks serve theirs at ``url(service) + "/metrics"``."""
        return f"http://127.0.0.1:{self.environment[f'{process.upper()}_METRICS_PORT']}/metrics"

    def mails_to(self, address: str) -> list[EmailMessage]:
        messages = []
        for path in sorted(self.mail.glob("*.eml")):
            message = BytesParser(policy=default).parsebytes(path.read_bytes())
            if address.casefold() in str(message["To"]).casefold():
                messages.append(message)
        return messages

    def link_token(self, address: str, fragment: str, *, within: float = 30.0) -> str:
        """The token of the newest ``{PUBLIC_URL}/#<fragment>=<token>`` link mailed to
        ``address``, read from the catcher's text copy of the mail, as a person would."""
        link = re.compile(
            re.escape(self.environment["PUBLIC_URL"]) + f"/#{fragment}=([A-Za-z0-9_-]+)"
        )
        deadline = time.monotonic() + within
        while True:
            tokens = [
                match.group(1)
                for path in sorted(self.mail.glob("*.txt"))
                if f"to: {address}".casefold() in (text := path.read_text()).casefold()
                for match in link.finditer(text)
            ]
            if tokens:
                return tokens[-1]
            if time.monotonic() > deadline:
                pytest.fail(f"no #{fragment} link mailed to {address} in {within:.0f} s")
            time.sleep(0.1)

    def confirm_address(self, client: httpx.Client, address: str) -> None:
        """Confirm ``address`` with its welcome mail's link (``client`` holds its session),
        and wait until the notifier knows, so that its digests and reminders may go out."""
        token = self.link_token(address, "verify-email")
        response = client.post("/api/user/email-verification", json={"token": token})
        assert response.status_code == 200, response.text
        deadline = time.monotonic() + 30
        with psycopg.connect(libpq_dsn(NOTIFIER_DATABASE), autocommit=True) as connection:
            while not connection.execute(
                "SELECT 1 FROM recipients WHERE lower(email) = lower(%s) AND email_verified",
                (address,),
            ).fetchone():
                if time.monotonic() > deadline:
                    pytest.fail(f"the notifier did not learn in 30 s that {address} is confirmed")
                time.sleep(0.1)

    def shell(
        self, command: str, *, timeout: float = 120, **overrides: str
    ) -> subprocess.CompletedProcess[str]:
        """Run ``command`` with bash in the checkout, as the person who started the stack
        would in another terminal (with ``overrides`` on top of the stack's environment)."""
        return subprocess.run(
            ["bash", "-euo", "pipefail", "-c", command],
            cwd=self.checkout,
            env=newcomer_environment({**self.environment, **overrides}),
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )


def stack_environment(run_dir: Path) -> dict[str, str]:
    gateway_port, auth_port, tasks_port, smtp_port, notifier_port, scheduler_port = (
        free_port() for _ in range(6)
    )
    rabbitmq = run.vhost_url(E2E_VHOST)
    ensure_rabbitmq_vhost(rabbitmq)
    brokers = {
        f"{service.upper()}_RABBITMQ_URL": run.user_vhost_url(user, E2E_VHOST)
        for service, user in BROKER_USERS.items()
    }
    return {
        "GATEWAY_PORT": str(gateway_port),
        "PUBLIC_URL": f"http://localhost:{gateway_port}",
        "AUTH_PORT": str(auth_port),
        "AUTH_UPSTREAM": f"127.0.0.1:{auth_port}",
        "TASKS_PORT": str(tasks_port),
        "TASKS_UPSTREAM": f"127.0.0.1:{tasks_port}",
        "TASKS_JWKS_URL": f"http://127.0.0.1:{auth_port}/.well-known/jwks.json",
        "NOTIFIER_TASKS_URL": f"http://127.0.0.1:{tasks_port}",
        "NOTIFIER_AUTH_URL": f"http://127.0.0.1:{auth_port}",
        "SMTP_PORT": str(smtp_port),
        "MAIL_CATCHER_PORT": str(smtp_port),
        "NOTIFIER_METRICS_PORT": str(notifier_port),
        "SCHEDULER_METRICS_PORT": str(scheduler_port),
        "AUTH_DATABASE_URL": AUTH_DATABASE,
        "TASKS_DATABASE_URL": TASKS_DATABASE,
        "NOTIFIER_DATABASE_URL": NOTIFIER_DATABASE,
        "RABBITMQ_URL": rabbitmq,
        **brokers,
        "SCHEDULER_DIGEST_CRON": "0 0 1 1 *",
    }


def start(checkout: Path, environment: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return spawn(
        ["make", "dev"],
        log=log,
        environment=newcomer_environment(environment),
        cwd=checkout,
        append=True,
    )


def stop(process: subprocess.Popen[bytes], checkout: Path) -> None:
    """Ctrl-C: SIGINT to the foreground process group, as a terminal sends it."""
    if process.poll() is not None:
        return  # make dev has exited (and honcho stopped what it had started)
    if stop_process(process, signal_number=signal.SIGINT, timeout=30) == -signal.SIGKILL:
        # honcho starts each process in a session of its own: end what it left behind.
        subprocess.run(["pkill", "-KILL", "-f", str(checkout)], check=False)


def wait_until_ready(urls: list[str], process: subprocess.Popen[bytes], log: Path) -> None:
    """Every one of ``urls`` answers 200 within :data:`READY_WITHIN` seconds in all."""
    deadline = time.monotonic() + READY_WITHIN
    for url in urls:
        problem = wait_until_healthy(url, process, max(0.0, deadline - time.monotonic()))
        if problem is not None:
            pytest.fail(f"make dev: {problem}:\n{log.read_text()[-20000:]}")


def wait_until_ports_free(environment: dict[str, str]) -> None:
    ports = [int(environment[name]) for name in LISTENING]
    deadline = time.monotonic() + 15
    while any(_listening(port) for port in ports):
        if time.monotonic() > deadline:
            busy = [port for port in ports if _listening(port)]
            pytest.fail(f"after Ctrl-C, something still listens on {busy}")
        time.sleep(0.2)


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    run_dir = tmp_path_factory.mktemp("stack")
    checkout = fresh_checkout(run_dir / "task-tracker")
    environment = stack_environment(run_dir)
    log = run_dir / "make-dev.log"
    auth, tasks = environment["AUTH_UPSTREAM"], environment["TASKS_UPSTREAM"]
    # The worker serves its metrics once it is ready (consuming), beat once it ticks.
    ready = [
        f"http://{auth}/readyz",
        f"http://{tasks}/readyz",
        f"http://127.0.0.1:{environment['GATEWAY_PORT']}/index.html",
        f"http://127.0.0.1:{environment['NOTIFIER_METRICS_PORT']}/metrics",
        f"http://127.0.0.1:{environment['SCHEDULER_METRICS_PORT']}/metrics",
    ]
    process = start(checkout, environment, log)
    try:
        wait_until_ready(ready, process, log)
        stop(process, checkout)
        wait_until_ports_free(environment)
        process = start(checkout, environment, log)
        wait_until_ready(ready, process, log)
        yield Stack(checkout, f"http://localhost:{environment['GATEWAY_PORT']}", environment, log)
    finally:
        stop(process, checkout)
