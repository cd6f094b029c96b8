"""The notifier's Celery app:
``celery -A tracker_notifier.worker worker -Q notifier.ticks,notifier.tasks``.

The worker runs the tasks of ``tracker_notifier.tasks`` from its own queues (the ticks
apart from the rest, see ``tracker_contracts.messaging``) with ``NOTIFIER_CONCURRENCY``
pool processes and, through a consumer step, receives events from ``notifier.events``
(see ``events.consumer``). Its main process touches a heartbeat file (``heartbeat``) and
serves the metrics of every process of its pool on
``NOTIFIER_METRICS_HOST:NOTIFIER_METRICS_PORT`` (prometheus-client's multiprocess mode, in
``NOTIFIER_METRICS_DIR``).
"""

import gc
import importlib
from threading import Thread
from typing import Any
from wsgiref.simple_server import WSGIServer

from celery import Celery, signals
from prometheus_client import CollectorRegistry

from tracker_notifier import metrics
from tracker_notifier.config import Settings, get_settings
from tracker_notifier.context import close_context, warm_up
from tracker_notifier.events.consumer import EventsConsumerStep
from tracker_notifier.heartbeat import HeartbeatStep
from tracker_runtime.celery_app import celery_app, log_through_runtime
from tracker_runtime.metrics import MultiprocessMetrics, serve_metrics
from tracker_runtime.settings import variable_name

TASK_TIME_LIMIT = 300
POOL_MODULES = ("psycopg", "httpcore")
"""What a pool process's first task imports (the database driver, the summaries client's
transport), imported by the main process before it forks the pool instead: else each pool
process spends half a second on them while the first mails wait, and keeps its own copy."""
CHATTY_LOGGERS = ("celery.worker.strategy", "celery.app.trace")
"""Celery logs every task's arguments (addresses included) on receipt and success; the
notifier's own lines say what happened, without them."""


def create_app(settings: Settings) -> Celery:
    app = celery_app(
        "tracker_notifier",
        settings,
        include=["tracker_notifier.tasks"],
        task_ignore_result=True,
        # Late acks: a task interrupted by a dying worker is delivered again; tasks are
        # idempotent. A task that fails for good is rejected, hence dead-lettered.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=False,
        task_time_limit=TASK_TIME_LIMIT,
        worker_prefetch_multiplier=1,
        worker_concurrency=settings.concurrency,
        worker_cancel_long_running_tasks_on_connection_loss=True,
    )
    app.steps["consumer"].add(EventsConsumerStep)
    app.steps["worker"].add(HeartbeatStep)
    return app


class WorkerMetrics:
    """The worker's metrics, wired to its signals: multiprocess mode before the pool forks,
    the server once the worker is ready, the bookkeeping as pool processes exit."""

    def __init__(self) -> None:
        self._multiprocess: MultiprocessMetrics | None = None
        self._registry: CollectorRegistry | None = None
        self._server: tuple[WSGIServer, Thread] | None = None

    def connect(self) -> None:
        signals.worker_init.connect(self.on_worker_init, weak=False)
        signals.worker_ready.connect(self.on_worker_ready, weak=False)
        signals.worker_process_shutdown.connect(self.on_process_shutdown, weak=False)
        signals.worker_shutdown.connect(self.on_worker_shutdown, weak=False)

    def on_worker_init(self, **_: Any) -> None:
        if metrics.made():
            raise RuntimeError("the notifier's metrics were made before the worker started")
        self._multiprocess = MultiprocessMetrics(get_settings().metrics_dir)
        self._registry = self._multiprocess.enable()
        metrics.metrics()  # those without labels are served from the start, at 0

    def on_worker_ready(self, **_: Any) -> None:
        if self._registry is None or self._server is not None:
            return
        settings = get_settings()
        self._server = serve_metrics(
            settings.metrics_host,
            settings.metrics_port,
            self._registry,
            variable=variable_name(Settings, "metrics_port"),
        )

    def on_process_shutdown(self, pid: int, **_: Any) -> None:
        if self._multiprocess is not None:
            self._multiprocess.process_exited(pid)

    def on_worker_shutdown(self, **_: Any) -> None:
        if self._server is not None:
            server, _thread = self._server
            server.shutdown()
            server.server_close()
        if self._multiprocess is not None:
            self._multiprocess.remove()


def _close_connections(**_: Any) -> None:
    close_context()


def _warm_up(**_: Any) -> None:
    warm_up()


def _freeze_before_fork(**_: Any) -> None:
    """Move what the main process holds out of the garbage collector's reach before it
    forks a pool process: else the child's collections write to those objects' headers,
    and every page they touch is copied instead of shared (Python's advice for servers
    that fork, ``gc.freeze``)."""
    gc.freeze()


for _module in POOL_MODULES:
    importlib.import_module(_module)
log_through_runtime(get_settings, quiet=CHATTY_LOGGERS)
signals.worker_process_init.connect(_warm_up, weak=False)
signals.worker_process_shutdown.connect(_close_connections, weak=False)
signals.worker_before_create_process.connect(_freeze_before_fork, weak=False)
WorkerMetrics().connect()


app = create_app(get_settings())
