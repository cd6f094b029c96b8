"""The stack as `make dev` runs it (same prestart, gateway template and Procfile under
honcho), on free ports and its own databases, for tests that go through the gateway."""

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from pathlib import Path

import pytest

from tests.support.network import free_port, wait_until_healthy
from tests.support.rabbitmq import purge_queues
from tracker_contracts.tasks import NOTIFIER_TASK_QUEUE
from tracker_contracts.topology import NOTIFIER_EVENTS, TASKS_SESSION_EVENTS

ROOT = Path(__file__).resolve().parents[1]
AUTH_DATABASE = "postgresql+asyncpg://postgres@localhost:5432/tracker_auth_e2e"
TASKS_DATABASE = "postgresql+asyncpg://postgres@localhost:5432/tracker_tasks_e2e"
NOTIFIER_DATABASE = "postgresql+psycopg://postgres@localhost:5432/tracker_notifier_e2e"


@dataclass(frozen=True)
class Stack:
    gateway: str
    environment: dict[str, str]
    log: Path
    mail: Path
    """Where the stack's mail catcher stores each message it receives."""

    def url(self, service: str) -> str:
        """The address of ``auth`` or ``tasks`` itself, behind the gateway."""
        return f"http://{self.environment[f'{service.upper()}_UPSTREAM']}"

    def mails_to(self, address: str) -> list[EmailMessage]:
        messages = []
        for path in sorted(self.mail.glob("*.eml")):
            message = BytesParser(policy=default).parsebytes(path.read_bytes())
            if address in str(message["To"]):
                messages.append(message)
        return messages


def wait_until_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    problem = wait_until_healthy(url, process, timeout_s=60)
    if problem is not None:
        pytest.fail(f"the stack is not ready: {problem}\n{log.read_text()}")


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    run_dir = tmp_path_factory.mktemp("stack")
    gateway_port, auth_port, tasks_port, smtp_port = (free_port() for _ in range(4))
    environment = {
        "ENVIRONMENT": "development",
        "LOG_LEVEL": "INFO",
        "GATEWAY_PORT": str(gateway_port),
        "GATEWAY_RUN_DIR": str(run_dir / "gateway"),
        "PUBLIC_URL": f"http://localhost:{gateway_port}",
        "AUTH_PORT": str(auth_port),
        "AUTH_UPSTREAM": f"127.0.0.1:{auth_port}",
        "AUTH_DATABASE_URL": AUTH_DATABASE,
        "AUTH_COOKIE_SECURE": "false",
        "AUTH_DEVELOPMENT_KEYS_DIR": str(run_dir / "secrets"),
        "AUTH_LOGIN_MAX_FAILURES_PER_ACCOUNT": "5",
        "TASKS_PORT": str(tasks_port),
        "TASKS_UPSTREAM": f"127.0.0.1:{tasks_port}",
        "TASKS_DATABASE_URL": TASKS_DATABASE,
        "TASKS_JWKS_URL": f"http://127.0.0.1:{auth_port}/.well-known/jwks.json",
        "AUTH_SERVICE_CLIENTS": json.dumps(
            {"notifier": {"secret": "dev-notifier-secret", "scopes": ["tasks:summaries"]}}
        ),
        "NOTIFIER_DATABASE_URL": NOTIFIER_DATABASE,
        "NOTIFIER_TASKS_URL": f"http://127.0.0.1:{tasks_port}",
        "NOTIFIER_AUTH_URL": f"http://127.0.0.1:{auth_port}",
        # Beat runs as in `make dev`, but ticks once a year: the tests choose their instants
        # themselves (`make digest AT=...`), and a tick at the real time would mail their users.
        "SCHEDULER_DIGEST_CRON": "0 0 1 1 *",
        "SCHEDULER_DATA_DIR": str(run_dir / "scheduler"),
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_port),
        "MAIL_CATCHER_PORT": str(smtp_port),
        "MAIL_CATCHER_DIR": str(run_dir / "mail"),
    }
    env_file = run_dir / "stack.env"
    env_file.write_text("".join(f"{key}='{value}'\n" for key, value in environment.items()))
    env = {**os.environ, **environment}
    python = sys.executable
    for service in ("tracker_auth", "tracker_tasks", "tracker_notifier"):
        subprocess.run([python, "-m", f"{service}.prestart"], env=env, cwd=ROOT, check=True)
    # Events left by earlier tests in this vhost are not this stack's business.
    purge_queues(
        env["RABBITMQ_URL"],
        [NOTIFIER_EVENTS.name, NOTIFIER_TASK_QUEUE, TASKS_SESSION_EVENTS.name],
    )
    subprocess.run([python, "services/frontend/build.py"], cwd=ROOT, check=True)
    subprocess.run(
        [python, "scripts/render_gateway.py", environment["GATEWAY_RUN_DIR"]],
        env=env,
        cwd=ROOT,
        check=True,
    )
    log = run_dir / "stack.log"
    with log.open("wb") as output:
        honcho = subprocess.Popen(
            [python, "-m", "honcho", "-e", str(env_file), "start", "-f", "Procfile"],
            env={**env, "PATH": f"{Path(python).parent}:{env['PATH']}"},
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_until_ready(f"http://127.0.0.1:{auth_port}/readyz", honcho, log)
        wait_until_ready(f"http://127.0.0.1:{tasks_port}/readyz", honcho, log)
        wait_until_ready(f"http://127.0.0.1:{gateway_port}/index.html", honcho, log)
        yield Stack(f"http://localhost:{gateway_port}", environment, log, run_dir / "mail")
    finally:
        honcho.send_signal(signal.SIGINT)  # what Ctrl-C does in `make dev`
        try:
            honcho.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(honcho.pid, signal.SIGKILL)
            honcho.wait()
