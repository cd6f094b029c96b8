"""Prometheus metrics every process shares: the event consumers' counters, the metrics
server of the Celery processes, and prometheus-client's multiprocess mode for the worker's
prefork pool. Imports nothing of the web framework: the worker and beat use it too.

The HTTP services serve ``/metrics`` themselves (``tracker_runtime.http_metrics``); the
worker and beat, which serve no HTTP, run :func:`serve_metrics` on a port of their own. None
of them is routed by the gateway.

Names start with ``tracker_``; the scrape's ``job`` label says which process (auth, tasks,
notifier, scheduler) they come from, so no metric carries a service label of its own.
"""

import logging
import os
import shutil
import tempfile
import threading
from pathlib import Path
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    CollectorRegistry,
    Counter,
    disable_created_metrics,
    start_http_server,
    values,
)
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

logger = logging.getLogger("tracker.metrics")

MULTIPROCESS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
UNKNOWN_EVENT_TYPE = "unknown"

# Each counter and histogram would also export a ``_created`` timestamp per label set:
# twice the series, for what Prometheus derives from the counter's resets anyway.
disable_created_metrics()
"""The ``event_type`` label of a message that names no event type the consumer knows."""

# -- event consumers (the tasks service's consumer, the notifier's step and task) -----------

_EVENT_LABELS = ("queue", "event_type")
EVENTS_CONSUMED = Counter(
    "tracker_events_consumed_total",
    "Events handled and committed, by queue and event type.",
    _EVENT_LABELS,
)
EVENTS_FAILED = Counter(
    "tracker_events_failed_total",
    "Attempts to handle an event that failed and will be retried.",
    _EVENT_LABELS,
)
EVENTS_REDELIVERED = Counter(
    "tracker_events_redelivered_total",
    "Events the broker delivered again (an earlier delivery was not acknowledged).",
    _EVENT_LABELS,
)
EVENTS_DEAD_LETTERED = Counter(
    "tracker_events_dead_lettered_total",
    "Events sent to the dead-letter queue: invalid, of a type not subscribed to, or out of "
    "retries.",
    _EVENT_LABELS,
)


# -- the metrics server of a process that serves no HTTP itself ------------------------------


def serve_metrics(
    host: str, port: int, registry: CollectorRegistry, *, variable: str
) -> tuple[WSGIServer, threading.Thread] | None:
    """Serve ``registry`` at ``http://host:port/metrics`` from a daemon thread; ``None``
    when ``port`` is 0 (no server) or taken. A taken port is logged, naming ``variable``,
    and the process goes on: its metrics are never worth its work."""
    if port == 0:
        return None
    try:
        server, thread = start_http_server(port, addr=host, registry=registry)
    except OSError as error:
        logger.error(
            "cannot serve metrics on %s:%d (%s): %s", host, port, variable, error.strerror or error
        )
        return None
    logger.info("serving metrics on http://%s:%d/metrics", host, port)
    return server, thread


# -- prometheus-client's multiprocess mode (the worker's prefork pool) -----------------------


class MultiprocessMetrics:
    """Counts from every process of a prefork pool, each writing its own files in one
    folder, added up by the main process when scraped.

    :meth:`enable` must run in the main process before any metric value exists there (the
    worker's ``worker_init``), and so before the pool forks: a value made earlier stays in
    the process that made it. Metrics with labels make their values on first use; those
    without make them when defined, so the worker defines its own after this (see
    ``tracker_notifier.metrics``).
    """

    def __init__(self, directory: Path | None) -> None:
        self._given = directory
        self.directory: Path | None = None

    def enable(self) -> CollectorRegistry:
        """Empty (or make) the folder, switch prometheus-client to it, and return the
        registry that adds up every process's files."""
        if self._given is None:
            self.directory = Path(tempfile.mkdtemp(prefix="tracker-metrics-"))
        else:
            self.directory = self._given
            if self.directory.exists():
                shutil.rmtree(self.directory)  # a previous run's counts are not ours
            self.directory.mkdir(parents=True)
        os.environ[MULTIPROCESS_VARIABLE] = str(self.directory)
        values.ValueClass = values.MultiProcessValue()
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(self.directory))
        return registry

    def process_exited(self, pid: int) -> None:
        """Forget the live gauges of a pool process that exited (its counters stay)."""
        if self.directory is not None:
            mark_process_dead(pid, path=str(self.directory))

    def remove(self) -> None:
        """Delete a folder :meth:`enable` made itself, when the main process stops."""
        if self._given is None and self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
