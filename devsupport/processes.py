"""Stopping a process that a test or a benchmark started, and whatever it started."""

import contextlib
import os
import signal
import subprocess
from typing import Any


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
