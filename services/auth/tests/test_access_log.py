"""No token reaches the access log: the real server's log output is read back."""

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import httpx

from tests.support.network import free_port, wait_until_healthy
from tracker_auth.config import Settings
from tracker_runtime import unsubscribe
from tracker_runtime.logging import redact_query

from .conftest import TEST_DATABASE_URL


def test_the_access_log_of_the_running_service_holds_no_token(
    settings: Settings, keys_dir: Path, tmp_path: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    token = unsubscribe.sign(uuid.uuid4(), settings.unsubscribe_secret.get_secret_value())
    environment = {
        **os.environ,
        "TRACKER_ENV_FILE": "",
        "AUTH_PORT": str(port),
        "AUTH_DATABASE_URL": TEST_DATABASE_URL,
        "AUTH_DEVELOPMENT_KEYS_DIR": str(keys_dir),
        "AUTH_PUBLIC_URL": url,
        "LOG_LEVEL": "INFO",
    }
    log = tmp_path / "auth.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "tracker_auth"],
            cwd=tmp_path,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            assert wait_until_healthy(f"{url}/healthz", process, timeout_s=30) is None
            page = httpx.get(f"{url}/api/user/unsubscribe", params={"token": token, "x": "1"})
            assert page.status_code == 200
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=30)

    written = log.read_text()
    assert "GET /api/user/unsubscribe?token=[redacted]&x=1 HTTP/1.1" in written, written
    assert token not in written


def test_only_secret_parameters_are_redacted() -> None:
    assert redact_query("/a?token=s3cret&page=2") == "/a?token=[redacted]&page=2"
    assert redact_query("/a?reset_token=s&Password=p&code=c&q=x") == (
        "/a?reset_token=[redacted]&Password=[redacted]&code=[redacted]&q=x"
    )
    assert redact_query("/plain") == "/plain"
    assert redact_query("/a?flag&token") == "/a?flag&token"
