"""RabbitMQ virtual hosts of their own for tests and benchmarks, made and emptied here,
with the shared topology declared in them as provisioning declares it (the services only
use it)."""

import asyncio
import fcntl
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote, urlsplit

import aio_pika

from tracker_runtime.provision import Rabbitmqctl, provision_topology

VHOST_LOCK = Path(tempfile.gettempdir()) / "task-tracker-test-vhosts.lock"


def _rabbitmqctl_path() -> str:
    return shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"


def rabbitmqctl(*arguments: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``rabbitmqctl -q ARGUMENTS``; its exit status is the caller's to read."""
    return subprocess.run(
        [_rabbitmqctl_path(), "-q", *arguments],
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )


@contextmanager
def one_vhost_change_at_a_time() -> Iterator[None]:
    """Virtual hosts are added and deleted by one process at a time on this machine:
    RabbitMQ (3.10) can hang for good when two deletions of virtual hosts holding quorum
    queues (the Celery worker's delayed-delivery queues) run at once."""
    with open(VHOST_LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _vhost_reachable(url: str) -> bool:
    async def connect() -> None:
        connection = await aio_pika.connect(url, timeout=5)
        await connection.close()

    try:
        asyncio.run(connect())
    except Exception:
        return False
    return True


def ensure_rabbitmq_vhost(url: str) -> None:
    """Create the virtual host of ``url`` with rabbitmqctl when it does not exist yet, and
    declare the shared topology in it with ``tracker_runtime.provision``, as provisioning
    does before `make dev` or Compose start the services (idempotent)."""
    parts = urlsplit(url)
    vhost = unquote(parts.path.lstrip("/")) or "/"
    if not _vhost_reachable(url):
        _add_vhost(url, vhost)
    provision_topology(Rabbitmqctl(_rabbitmqctl_path()), [vhost])


def _add_vhost(url: str, vhost: str) -> None:
    """The virtual host ``vhost`` of ``url``, its user allowed everything in it."""
    parts = urlsplit(url)
    user = parts.username or "guest"
    if not os.path.exists(_rabbitmqctl_path()):
        raise RuntimeError(f"RabbitMQ vhost {vhost!r} is missing and rabbitmqctl is not here")
    with one_vhost_change_at_a_time():
        rabbitmqctl("add_vhost", vhost)
    permitted = rabbitmqctl("set_permissions", "-p", vhost, user, ".*", ".*", ".*")
    if permitted.returncode != 0:
        raise RuntimeError(f"rabbitmqctl set_permissions failed: {permitted.stderr}")
    if not _vhost_reachable(url):
        raise RuntimeError(f"cannot reach RabbitMQ at {parts.hostname}:{parts.port}/{vhost}")


def purge_queues(url: str, names: list[str]) -> None:
    """Empty the named queues (those that exist) before a run starts consuming them."""

    async def purge() -> None:
        connection = await aio_pika.connect(url)
        async with connection:
            for name in names:
                channel = await connection.channel()
                try:
                    queue = await channel.get_queue(name, ensure=True)
                except aio_pika.exceptions.ChannelClosed:
                    continue  # not declared yet
                await queue.purge()

    asyncio.run(purge())


async def consumers(url: str, queue: str) -> int:
    """How many consumers ``queue`` has now (0 when it does not exist yet)."""
    connection = await aio_pika.connect(url, timeout=10)
    try:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, passive=True)
        return int(declared.declaration_result.consumer_count or 0)
    except aio_pika.exceptions.ChannelClosed:
        return 0
    finally:
        await connection.close()
