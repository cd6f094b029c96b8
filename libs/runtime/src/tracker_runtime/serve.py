"""Running a process that listens on a port: ``python -m tracker_auth`` and
``python -m tracker_tasks`` (the same command in ``make dev`` and in the images), and the
gateway and mail catcher of ``make dev``.

A port that is taken stops the process with one line naming the port and the variable
that moves it, instead of a traceback from deep inside the server.

On SIGINT or SIGTERM uvicorn stops accepting, then waits for every open response to
finish before the application's lifespan ends. A response that never finishes by itself
(the tasks service's live streams) would hold the process forever, so such responses
register with :func:`on_shutdown` and are ended first.
"""

import errno
import logging
import socket
import sys
from collections.abc import Callable

import uvicorn

from tracker_runtime.settings import HttpServiceSettings, variable_name

logger = logging.getLogger("tracker.serve")

_shutdown_callbacks: set[Callable[[], None]] = set()


def on_shutdown(callback: Callable[[], None]) -> Callable[[], None]:
    """Call ``callback`` (in the server's event loop) as soon as the server is told to stop,
    before it waits for open responses: it should make them end. Returns what unregisters
    it."""
    _shutdown_callbacks.add(callback)
    return lambda: _shutdown_callbacks.discard(callback)


def shutting_down() -> None:
    """Run every :func:`on_shutdown` callback (the server does; tests that run a server of
    their own may too)."""
    for callback in list(_shutdown_callbacks):
        try:
            callback()
        except Exception:
            logger.exception("a shutdown callback failed")


class Server(uvicorn.Server):
    """uvicorn's server, ending the endless responses before it waits for open ones."""

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        shutting_down()
        await super().shutdown(sockets)


def port_problem(host: str, port: int, *, variable: str) -> str | None:
    """Why nothing can listen on ``host:port`` now, or ``None`` when it is free."""
    try:
        listen_socket(host, port).close()
    except OSError as error:
        return bind_problem(error, host, port, variable=variable)
    return None


def bind_problem(error: OSError, host: str, port: int, *, variable: str) -> str:
    if error.errno == errno.EADDRINUSE:
        return (
            f"port {port} is already in use; stop what listens there or set {variable} "
            "to a free port"
        )
    return f"cannot listen on {host}:{port} ({variable}): {error.strerror or error}"


def listen_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def exit_with(process: str, problem: str) -> None:
    print(f"{process}: {problem}", file=sys.stderr)
    raise SystemExit(2)


def serve(app: str, settings: HttpServiceSettings, *, process: str) -> None:
    """Serve the ASGI app factory ``app`` (``module:function``) with uvicorn on the
    settings' host and port, until SIGINT or SIGTERM (which finish open requests)."""
    variable = variable_name(type(settings), "port")
    try:
        sock = listen_socket(settings.host, settings.port)
    except OSError as error:
        exit_with(process, bind_problem(error, settings.host, settings.port, variable=variable))
        return
    config = uvicorn.Config(
        app,
        factory=True,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        server_header=False,
        # The app configures logging itself (tracker_runtime.logging), uvicorn's included.
        log_config=None,
    )
    Server(config).run(sockets=[sock])
