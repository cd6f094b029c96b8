"""Starting the processes that tests and benchmarks run beside them, and stopping them
with whatever they started."""

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tracker_contracts.messaging import NOTIFIER_WORKER_QUEUES


def spawn(
    command: Sequence[str],
    *,
    log: Path,
    environment: Mapping[str, str],
    cwd: Path | None = None,
    append: bool = False,
) -> subprocess.Popen[bytes]:
    """Start ``command`` with exactly ``environment`` in a session of its own: its own
    process group, which :func:`stop_process` stops whole and a Ctrl-C in the terminal
    never reaches. Its output (standard error too) goes to ``log``, or after it
    (``append``), in a folder created if missing."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab" if append else "wb") as output:
        return subprocess.Popen(
            list(command),
            cwd=cwd,
            env=dict(environment),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def notifier_worker_command(*, concurrency: int | None = None, name: str) -> list[str]:
    """The notifier's Celery worker on its queues, as `make dev` runs it (with
    ``concurrency`` pool processes instead of ``NOTIFIER_CONCURRENCY``'s, if given);
    ``name`` is the node name (``%h`` stands for the host)."""
    pool = [f"--concurrency={concurrency}"] if concurrency else []
    return [
        *(sys.executable, "-m", "celery", "-A", "tracker_notifier.worker", "worker"),
        *(*pool, "-Q", ",".join(NOTIFIER_WORKER_QUEUES), "-n", name),
        *("--without-mingle", "--without-gossip", "--without-heartbeat"),
    ]


def stop_process(
    process: subprocess.Popen[Any],
    *,
    signal_number: signal.Signals = signal.SIGTERM,
    group: bool = True,
    timeout: float = 10.0,
) -> int:
    """Stop ``process`` and return its exit status (``-SIGKILL`` when it had to be killed).

    ``signal_number`` goes to its process group (``group``; the process must have been
    started with ``start_new_session=True``) or to the process alone (a Celery worker's
    warm shutdown: its main process stops its pool). When the process has not exited
    ``timeout`` seconds later, the group is killed. Then whatever is left of the group (a
    pool process, say) is killed too, so that nothing is ever left behind. A process that
    has exited already is only waited for.
    """
    if process.poll() is None:
        if group:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal_number)
        else:
            process.send_signal(signal_number)
        try:
            process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    return process.returncode
