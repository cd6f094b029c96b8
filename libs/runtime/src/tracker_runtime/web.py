"""What every HTTP service puts in front of its routes: request ids, the cross-site check,
the error handlers, the health endpoints, and the request's database session."""

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tracker_runtime.database import Database
from tracker_runtime.errors import APIError, error_response, install_error_handlers
from tracker_runtime.logging import request_id_var
from tracker_runtime.openapi import document_errors

logger = logging.getLogger(__name__)

REQUEST_ID_HEADER = "x-request-id"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


class RequestIdMiddleware:
    """Take the gateway's ``X-Request-ID`` (or make one), log with it, and echo it back."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = Headers(scope=scope).get(REQUEST_ID_HEADER, "")
        request_id = incoming if 0 < len(incoming) <= 128 else uuid.uuid4().hex
        token = request_id_var.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (REQUEST_ID_HEADER.encode(), request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


class CrossSiteRequestGuard:
    """Refuse state-changing requests that a browser sent from another site.

    SameSite=Strict cookies already stay home; this is the second wall (and the only one
    against login CSRF, which needs no cookie). A request is refused when the browser says
    it is cross-site (``Sec-Fetch-Site``) or names an ``Origin`` that is neither the public
    URL nor the host it was sent to. Requests carrying a Bearer token are exempt: a browser
    never adds that header on its own, so they cannot be forged by another site. So are
    ``cross_site_paths``: endpoints authenticated by a token in the URL, never by a cookie.
    """

    def __init__(
        self,
        app: ASGIApp,
        trusted_origins: Iterable[str],
        cross_site_paths: Iterable[str] = (),
    ) -> None:
        self.app = app
        self.trusted_origins = frozenset(origin_of(origin) for origin in trusted_origins)
        self.cross_site_paths = frozenset(cross_site_paths)

    def _is_cross_site(self, headers: Headers) -> bool:
        fetch_site = headers.get("sec-fetch-site")
        if fetch_site == "cross-site":
            return True
        origin = headers.get("origin")
        if origin is None:
            return fetch_site == "same-site"
        if origin == "null":
            return True
        origin = origin.lower()
        if origin in self.trusted_origins:
            return False
        host = headers.get("host", "")
        return urlsplit(origin).netloc != host.lower()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] not in SAFE_METHODS
            and scope["path"] not in self.cross_site_paths
        ):
            headers = Headers(scope=scope)
            bearer = headers.get("authorization", "").lower().startswith("bearer ")
            if not bearer and self._is_cross_site(headers):
                logger.warning("refused a cross-site %s %s", scope["method"], scope["path"])
                response = error_response(403, "Cross-site requests are not allowed")
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


ReadinessCheck = Callable[[], Awaitable[object]]


def health_router(
    required: dict[str, ReadinessCheck], informational: dict[str, ReadinessCheck] | None = None
) -> APIRouter:
    """``/healthz`` answers while the process lives; ``/readyz`` runs every check.

    A check returns details to show (a dict, or ``None``) and raises when its dependency is
    down. Only ``required`` checks make the service unready: a service that degrades
    gracefully without a dependency (the broker, thanks to the outbox) stays in rotation
    and reports that dependency's state for operators.
    """
    router = APIRouter(tags=["health"])
    checks = {name: (check, True) for name, check in required.items()} | {
        name: (check, False) for name, check in (informational or {}).items()
    }

    @router.get("/healthz", summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="Dependencies are reachable")
    async def readyz() -> JSONResponse:
        results: dict[str, object] = {}
        ready = True
        for name, (check, is_required) in checks.items():
            try:
                details = await check()
            except Exception as error:  # any failure means "down", with its reason
                ready = ready and not is_required
                results[name] = {"status": "down", "error": type(error).__name__}
            else:
                results[name] = {"status": "up", **(details if isinstance(details, dict) else {})}
        if ready:
            return JSONResponse({"status": "ready", "checks": results})
        return JSONResponse({"message": "Not ready", "checks": results}, status_code=503)

    return router


def prepare_app(
    app: FastAPI, *, trusted_origins: Iterable[str], cross_site_paths: Iterable[str] = ()
) -> None:
    """Install the shared middleware and error handlers on a service's app, and describe
    its error answers truly in its OpenAPI."""
    install_error_handlers(app)
    document_errors(app)
    app.add_middleware(
        CrossSiteRequestGuard, trusted_origins=trusted_origins, cross_site_paths=cross_site_paths
    )
    app.add_middleware(RequestIdMiddleware)


async def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


async def session_per_request(
    request: Request, database: Annotated[Database, Depends(get_database)]
) -> AsyncIterator[AsyncSession]:
    """The request's session: committed when the endpoint returns, rolled back when it raises.

    With ``scope="function"`` the commit runs as soon as the endpoint returns, before the
    response is built, so a client never sees success for a change that was not stored.
    A request of a safe method (GET, HEAD), which only reads, gets a session without a
    transaction (``Database.reads``).
    """
    factory = database.reads if request.method in SAFE_METHODS else database.sessions
    async with factory() as session:
        try:
            yield session
        except APIError as error:
            await (session.commit() if error.commit else session.rollback())
            raise
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()


SessionDep = Annotated[AsyncSession, Depends(session_per_request, scope="function")]
