"""The auth and tasks services as a client meets them: each a real uvicorn server on a free
port (in a thread of its own, with its own event loop), on databases and a RabbitMQ
virtual host of this run, the tasks service verifying auth's tokens over HTTP."""

import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from devsupport.network import free_port
from devsupport.rabbitmq import ensure_rabbitmq_vhost
from tests.support import run
from tracker_auth.config import Settings as AuthSettings
from tracker_auth.main import create_app as create_auth_app
from tracker_auth.prestart import MIGRATIONS as AUTH_MIGRATIONS
from tracker_runtime.migrations import prepare
from tracker_tasks.config import Settings as TasksSettings
from tracker_tasks.main import create_app as create_tasks_app
from tracker_tasks.prestart import MIGRATIONS as TASKS_MIGRATIONS

PASSWORD = "contract tests' password 7"


class Server:
    """An app served by uvicorn in a background thread until :meth:`stop`."""

    def __init__(self, app: FastAPI) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def start(self, timeout: float = 30.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the server on {self.url} did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=15)


@dataclass(frozen=True)
class Stack:
    auth: Server
    tasks: Server
    access_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    rabbitmq_url = run.vhost_url("tracker-contract-test")
    ensure_rabbitmq_vhost(rabbitmq_url)
    auth_database = run.database_url("tracker_auth_contract_test")
    tasks_database = run.database_url("tracker_tasks_contract_test")
    prepare(AUTH_MIGRATIONS, auth_database)
    prepare(TASKS_MIGRATIONS, tasks_database)
    keys: Path = tmp_path_factory.mktemp("contract-keys")
    auth_settings = AuthSettings.model_validate(
        {
            "environment": "test",
            "database_url": auth_database,
            "development_keys_dir": keys,
            "rabbitmq_url": rabbitmq_url,
            "password_memory_cost_kib": 1024,
            "password_time_cost": 1,
        }
    )
    auth = Server(create_auth_app(auth_settings))
    auth.start()
    tasks_settings = TasksSettings.model_validate(
        {
            "environment": "test",
            "database_url": tasks_database,
            "jwks_url": f"{auth.url}/.well-known/jwks.json",
            "rabbitmq_url": rabbitmq_url,
            "broker_max_backoff": 1.0,
        }
    )
    tasks = Server(create_tasks_app(tasks_settings))
    tasks.start()
    try:
        registered = httpx.post(
            f"{auth.url}/api/user",
            json={"email": f"contract.{os.getpid()}@example.com", "password": PASSWORD},
            timeout=30,
        )
        assert registered.status_code == 200, registered.text
        yield Stack(auth, tasks, registered.json()["access_token"])
    finally:
        tasks.stop()
        auth.stop()
