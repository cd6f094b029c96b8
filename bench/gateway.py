"""The gateway of ``make dev`` (nginx, rendered by ``scripts.gateway``) in front of benchmark
services, with one more server in the same nginx for a bare baseline: both sides pay the
same proxy hop, in the same worker process.

The bare server listens on its own port and passes ``/bare/`` to the baseline process with
the settings the gateway's server uses for the services (HTTP/1.1 to an upstream that keeps
16 connections alive, the same forwarded headers, the same access log format).
"""

import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.progress import say
from bench.services import RESULTS, ServiceError, tail
from devsupport.network import free_port
from devsupport.processes import stop_process
from scripts.gateway import GatewaySettings, prepare

BARE_SERVER = """
upstream bare {{
    server {bare};
    keepalive 16;
}}

server {{
    listen 127.0.0.1:{port};
    access_log /dev/stdout gateway;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header Host $http_host;
    proxy_set_header X-Forwarded-For $remote_addr;
    proxy_set_header X-Forwarded-Proto $scheme;
    proxy_set_header X-Request-ID $request_id;

    location /bare/ {{
        proxy_pass http://bare;
    }}
}}
"""


@dataclass(frozen=True)
class Gateway:
    url: str
    """The gateway's server, as a person's browser reaches it."""
    bare_url: str
    """The bare server beside it, in the same nginx."""
    pid: int


@contextmanager
def gateway(auth: str, tasks: str, bare: str) -> Iterator[Gateway]:
    """nginx in front of the services at ``auth`` and ``tasks`` and the baseline at
    ``bare`` (``host:port`` each), stopped after; its log goes to
    ``bench/results/gateway.log`` (the access log is written, as in production)."""
    port, bare_port = free_port(), free_port()
    with tempfile.TemporaryDirectory(prefix="bench-gateway-") as folder:
        static = Path(folder) / "static"
        static.mkdir()
        (static / "index.html").write_text("<!doctype html><title>bench</title>")
        settings = GatewaySettings(
            port=port,
            run_dir=Path(folder) / "run",
            auth_upstream=auth,
            tasks_upstream=tasks,
            static_root=static,
        )
        run_dir = prepare(settings)
        with (run_dir / "gateway.conf").open("a") as conf:
            conf.write(BARE_SERVER.format(bare=bare, port=bare_port))
        RESULTS.mkdir(parents=True, exist_ok=True)
        log = RESULTS / "gateway.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                ["nginx", "-p", str(run_dir), "-c", "nginx.conf", "-e", "stderr"],
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_for(f"{url}/index.html", process, log)
            say(f"gateway: nginx (pid {process.pid}) on port {port}, bare beside on {bare_port}")
            yield Gateway(url=url, bare_url=f"http://127.0.0.1:{bare_port}", pid=process.pid)
        finally:
            stop_process(process)


def _wait_for(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    for _ in range(100):
        if process.poll() is not None:
            raise ServiceError(f"nginx exited ({process.returncode}):\n{tail(log)}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise ServiceError(f"nginx did not answer at {url}:\n{tail(log)}")
