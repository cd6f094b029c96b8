"""The HTTP services' ``/metrics`` (Prometheus text format) and the request metrics behind
it: how many requests each route answered with each status, and how long they took.

Requests are labelled by their route's template (``/api/tasks/{task_id}``), never by their
path, so no id ends up in a label; a path no route matches is ``unmatched``, and a method
outside HTTP's usual ones ``other``, so a scanner cannot grow the number of series. The
gateway routes only ``/api/...``: ``/metrics`` is reached on the service's own port, by
Prometheus inside the cluster or the host.
"""

import time
from collections.abc import Iterable

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# For its prometheus-client settings (no ``_created`` series), which these metrics share.
from tracker_runtime import metrics as _shared  # noqa: F401

METRICS_PATH = "/metrics"
UNMATCHED = "unmatched"
OTHER_METHOD = "other"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_LABELS = ("method", "route", "status")

REQUESTS = Counter(
    "tracker_http_requests_total",
    "HTTP requests answered, by method, route template and status.",
    _LABELS,
)
REQUEST_DURATION = Histogram(
    "tracker_http_request_duration_seconds",
    "Seconds from a request's arrival until its status and headers were sent (for a "
    "stream, until it opened), by method, route template and status.",
    _LABELS,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


def route_template(scope: Scope) -> str:
    """The template of the route that handled (or would have handled) the request: the one
    the router chose, else the first that matches (a request the cross-site guard refused
    before routing), else one matching the path with another method (a 405)."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if not isinstance(path, str) or not path:
        path = _matching_path(
            getattr(getattr(scope.get("app"), "router", None), "routes", ()), scope
        )
    return path or UNMATCHED


def _matching_path(routes: Iterable[BaseRoute], scope: Scope) -> str | None:
    """The template of the route among ``routes`` that matches ``scope`` fully, else
    partly; looks into routers included whole (which FastAPI lists as one route each)."""
    partial = None
    for route in routes:
        match, _ = route.matches(scope)
        if match is Match.NONE:
            continue
        path = getattr(route, "path", None)
        if not isinstance(path, str) or not path:
            included = getattr(route, "original_router", route)
            path = _matching_path(getattr(included, "routes", ()), scope)
        if match is Match.FULL and path:
            return path
        partial = partial or path
    return partial


class RequestMetricsMiddleware:
    """Counts and times every HTTP request; the outermost of the shell's middleware, so
    that requests the others answer themselves (a refused cross-site request) count too."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        answered = False

        def observe(status: int) -> None:
            method = scope["method"] if scope["method"] in METHODS else OTHER_METHOD
            labels = (method, route_template(scope), str(status))
            REQUESTS.labels(*labels).inc()
            REQUEST_DURATION.labels(*labels).observe(time.perf_counter() - started)

        async def send_observed(message: Message) -> None:
            nonlocal answered
            if message["type"] == "http.response.start" and not answered:
                answered = True
                observe(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_observed)
        except Exception:
            if not answered:  # the server answers 500 for it
                observe(500)
            raise


def metrics_router() -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get(METRICS_PATH, include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    return router
