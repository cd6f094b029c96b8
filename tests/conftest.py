"""The stack as `make dev` runs it (same prestart, gateway template and Procfile under
honcho), on free ports and its own databases, for tests that go through the gateway."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
E2E_DATABASE = "postgresql+asyncpg://postgres@localhost:5432/tracker_auth_e2e"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class Stack:
    gateway: str
    environment: dict[str, str]
    log: Path


def wait_until_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the stack exited early:\n{log.read_text()}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(f"the stack did not become ready:\n{log.read_text()}")


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    run_dir = tmp_path_factory.mktemp("stack")
    gateway_port, auth_port = free_port(), free_port()
    environment = {
        "ENVIRONMENT": "development",
        "LOG_LEVEL": "INFO",
        "GATEWAY_PORT": str(gateway_port),
        "GATEWAY_RUN_DIR": str(run_dir / "gateway"),
        "PUBLIC_URL": f"http://localhost:{gateway_port}",
        "AUTH_PORT": str(auth_port),
        "AUTH_UPSTREAM": f"127.0.0.1:{auth_port}",
        "AUTH_DATABASE_URL": E2E_DATABASE,
        "AUTH_COOKIE_SECURE": "false",
        "AUTH_DEVELOPMENT_KEYS_DIR": str(run_dir / "secrets"),
        "AUTH_LOGIN_MAX_FAILURES_PER_ACCOUNT": "5",
    }
    env_file = run_dir / "stack.env"
    env_file.write_text("".join(f"{key}={value}\n" for key, value in environment.items()))
    env = {**os.environ, **environment}
    python = sys.executable
    subprocess.run([python, "-m", "tracker_auth.prestart"], env=env, cwd=ROOT, check=True)
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
        wait_until_ready(f"http://127.0.0.1:{gateway_port}/index.html", honcho, log)
        yield Stack(f"http://localhost:{gateway_port}", environment, log)
    finally:
        honcho.send_signal(signal.SIGINT)  # what Ctrl-C does in `make dev`
        try:
            honcho.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(honcho.pid, signal.SIGKILL)
            honcho.wait()
