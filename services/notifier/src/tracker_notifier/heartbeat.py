"""The worker's heartbeat: a file its main process touches every
``NOTIFIER_HEARTBEAT_INTERVAL`` seconds from the worker's own event loop, the loop that also
takes messages from RabbitMQ. The liveness probe reads the file's age: a loop that hangs, or a
worker that has lost the broker and cannot get it back, stops touching it, and a file older
than several intervals means the worker should be restarted.
"""

import logging
from pathlib import Path
from typing import Any

from celery import bootsteps

from tracker_notifier.config import get_settings

logger = logging.getLogger("tracker.notifier.heartbeat")


def touch(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()


class HeartbeatStep(bootsteps.StartStopStep):  # type: ignore[misc]
    """Registered with ``app.steps["worker"].add(HeartbeatStep)``; runs on the worker's
    timer, which its event loop drives."""

    name = "tracker_notifier.Heartbeat"
    requires = ("celery.worker.components:Timer",)

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        settings = get_settings()
        self.path = settings.heartbeat_file
        self.interval = settings.heartbeat_interval
        self._entry: Any = None

    def start(self, parent: Any) -> None:
        self.beat()
        self._entry = parent.timer.call_repeatedly(self.interval, self.beat)

    def stop(self, parent: Any) -> None:
        if self._entry is not None:
            self._entry.cancel()
            self._entry = None

    def beat(self) -> None:
        try:
            touch(self.path)
        except OSError as error:  # the probe notices; the worker goes on
            logger.warning("cannot touch the heartbeat file %s: %s", self.path, error)
