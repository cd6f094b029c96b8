"""The gateway's own behaviour, on the real nginx, rendered by scripts/gateway.py as `make dev`
renders it: which client address the services are told, the request id, the rate-limit
zones, the headers of its own error pages, HSTS and what its access log keeps.

Two small HTTP servers stand in for auth and tasks and answer with what they received.
"""

import json
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from devsupport.network import free_port
from scripts.gateway import GatewaySettings, prepare

SECURITY_HEADERS = ("content-security-policy", "x-content-type-options", "referrer-policy")
HSTS = "max-age=31536000; includeSubDomains"


class Echo(BaseHTTPRequestHandler):
    """Answers every request with its path and headers, as JSON; ``/api/session`` answers
    429 with a Retry-After of its own when asked to (``?throttle``)."""

    service = ""
    stream_released = threading.Event()
    """Ends the stand-in live stream, which sends its first event and then holds on."""

    def answer(self) -> None:
        if self.path.startswith("/api/tasks/events"):
            self.hold_a_stream()
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        body = json.dumps(
            {"service": self.service, "path": self.path, "headers": dict(self.headers)}
        ).encode()
        throttled = self.path.endswith("?throttle")
        self.send_response(429 if throttled else 200)
        if throttled:
            self.send_header("Retry-After", "900")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def hold_a_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        event = b"id: 1\nevent: task.created\ndata: {}\n\n"
        self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
        self.wfile.flush()
        self.stream_released.wait(timeout=10)
        self.wfile.write(b"0\r\n\r\n")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = answer

    def log_message(self, format: str, *args: Any) -> None:
        return


def echo_server(service: str) -> ThreadingHTTPServer:
    handler = type(f"{service.title()}Echo", (Echo,), {"service": service})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@dataclass
class Gateway:
    url: str
    access_log: Path

    def client(self, source: str = "127.0.0.1") -> httpx.Client:
        """A client whose connections come from ``source`` (any address of 127.0.0.0/8)."""
        transport = httpx.HTTPTransport(local_address=source)
        return httpx.Client(base_url=self.url, transport=transport, timeout=10)

    def log_text(self, until: str) -> str:
        """The access log, once it holds ``until`` (nginx writes each line after the answer)."""
        deadline = time.monotonic() + 5
        text = ""
        while time.monotonic() < deadline:
            text = self.access_log.read_text()
            if until in text:
                break
            time.sleep(0.05)
        return text


StartGateway = Callable[..., Gateway]


@pytest.fixture(scope="module")
def upstreams() -> Iterator[dict[str, str]]:
    servers = {name: echo_server(name) for name in ("auth", "tasks")}
    yield {
        f"{name.upper()}_UPSTREAM": f"127.0.0.1:{server.server_address[1]}"
        for name, server in servers.items()
    }
    for server in servers.values():
        server.shutdown()
        server.server_close()


@pytest.fixture
def start_gateway(
    tmp_path: Path, upstreams: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[StartGateway]:
    processes: list[subprocess.Popen[bytes]] = []

    def start(**variables: str) -> Gateway:
        static = tmp_path / "static"
        static.mkdir(exist_ok=True)
        (static / "index.html").write_text("<!doctype html><title>app</title>")
        port = free_port()
        environment = {
            **upstreams,
            "GATEWAY_PORT": str(port),
            "GATEWAY_RUN_DIR": str(tmp_path / f"run-{len(processes)}"),
            "STATIC_ROOT": str(static),
            **variables,
        }
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        run_dir = prepare(GatewaySettings())
        access_log, error_log = run_dir / "stdout.log", run_dir / "stderr.log"
        with access_log.open("wb") as output, error_log.open("wb") as errors:
            process = subprocess.Popen(
                ["nginx", "-p", str(run_dir), "-c", "nginx.conf", "-e", "stderr"],
                stdout=output,
                stderr=errors,
            )
        processes.append(process)
        gateway = Gateway(f"http://127.0.0.1:{port}", access_log)
        deadline = time.monotonic() + 10
        while True:
            assert process.poll() is None, error_log.read_text()
            try:
                httpx.get(f"{gateway.url}/index.html", timeout=1)
                return gateway
            except httpx.TransportError:
                assert time.monotonic() < deadline, "nginx did not start"
                time.sleep(0.05)

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=10)


def seen_by_service(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_client_cannot_name_its_own_address(start_gateway: StartGateway) -> None:
    gateway = start_gateway(GATEWAY_TRUSTED_PROXIES="")

    with gateway.client() as client:
        response = client.get("/api/user", headers={"X-Forwarded-For": "203.0.113.9"})

    assert seen_by_service(response)["headers"]["X-Forwarded-For"] == "127.0.0.1"


def test_a_trusted_proxy_names_the_client(start_gateway: StartGateway) -> None:
    gateway = start_gateway(GATEWAY_TRUSTED_PROXIES="127.0.0.1, 10.0.0.0/8")

    with gateway.client("127.0.0.1") as proxy, gateway.client("127.0.0.2") as stranger:
        # The client forged the first entry; the proxy appended the address it saw.
        chain = proxy.get("/api/tasks", headers={"X-Forwarded-For": "198.51.100.7, 203.0.113.9"})
        through_two = proxy.get("/api/user", headers={"X-Forwarded-For": "203.0.113.9, 10.1.2.3"})
        forged = stranger.get("/api/user", headers={"X-Forwarded-For": "203.0.113.9"})

    assert seen_by_service(chain)["headers"]["X-Forwarded-For"] == "203.0.113.9"
    assert seen_by_service(through_two)["headers"]["X-Forwarded-For"] == "203.0.113.9"
    assert seen_by_service(forged)["headers"]["X-Forwarded-For"] == "127.0.0.2"


def test_the_gateway_names_each_request_itself(start_gateway: StartGateway) -> None:
    gateway = start_gateway()

    with gateway.client() as client:
        first = client.get("/api/user", headers={"X-Request-ID": "chosen-by-the-client"})
        second = client.get("/api/user")

    for response in (first, second):
        request_id = response.headers["x-request-id"]
        assert len(request_id) == 32
        assert int(request_id, 16) >= 0
        assert seen_by_service(response)["headers"]["X-Request-ID"] == request_id
    assert first.headers["x-request-id"] != second.headers["x-request-id"]
    assert "chosen-by-the-client" not in first.headers["x-request-id"]


def test_the_account_paths_reach_auth(start_gateway: StartGateway) -> None:
    gateway = start_gateway()

    with gateway.client() as client:
        for method, path in [
            ("POST", "/api/user/email-verification"),
            ("POST", "/api/user/verification-mail"),
            ("PUT", "/api/user/password"),
            ("DELETE", "/api/user"),
            ("POST", "/api/password-reset"),
            ("POST", "/api/password-reset/confirm"),
            ("POST", "/api/session/refresh"),
        ]:
            response = client.request(method, path, json={})
            assert seen_by_service(response) | {"headers": None} == {
                "service": "auth",
                "path": path,
                "headers": None,
            }, path


def test_several_replicas_share_the_requests_and_one_down_is_passed_over(
    start_gateway: StartGateway, upstreams: dict[str, str]
) -> None:
    down = f"127.0.0.1:{free_port()}"
    gateway = start_gateway(TASKS_UPSTREAM=f"{down}, {upstreams['TASKS_UPSTREAM']}")

    with gateway.client() as client:
        answers = [client.post("/api/tasks", json={}) for _ in range(6)]

    assert [seen_by_service(answer)["service"] for answer in answers] == ["tasks"] * 6


def test_an_upstream_must_be_host_and_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTH_UPSTREAM", "127.0.0.1:8001; include /etc/passwd")
    with pytest.raises(ValueError, match="not a host:port"):
        GatewaySettings()


def test_logins_cannot_starve_renewals(start_gateway: StartGateway) -> None:
    gateway = start_gateway()

    with gateway.client("127.0.0.3") as client:
        logins = [client.post("/api/session", json={}) for _ in range(60)]
        renewals = [client.post("/api/session/refresh").status_code for _ in range(10)]

    throttled = logins[-1]
    assert throttled.status_code == 429
    assert renewals == [200] * 10
    assert throttled.json()["message"]
    assert throttled.headers["retry-after"] == "1"
    for name in SECURITY_HEADERS:
        assert throttled.headers[name], name
    assert throttled.headers["strict-transport-security"] == HSTS


def test_a_service_s_own_retry_after_is_kept(start_gateway: StartGateway) -> None:
    gateway = start_gateway()

    response = httpx.post(f"{gateway.url}/api/password-reset?throttle", json={})

    assert response.status_code == 429
    assert response.headers.get_list("retry-after") == ["900"]
    assert response.headers["x-content-type-options"] == "nosniff"


def test_the_unavailable_page_keeps_the_security_headers(start_gateway: StartGateway) -> None:
    gateway = start_gateway(AUTH_UPSTREAM=f"127.0.0.1:{free_port()}")

    response = httpx.get(f"{gateway.url}/api/user")

    assert response.status_code == 503
    assert response.json()["message"]
    assert response.headers["retry-after"] == "5"
    for name in SECURITY_HEADERS:
        assert response.headers[name], name
    assert response.headers["strict-transport-security"] == HSTS


@pytest.fixture(autouse=True)
def hsts_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """As in production; the test of plain-HTTP development turns it off."""
    monkeypatch.setenv("GATEWAY_HSTS", HSTS)


def test_hsts_is_sent_when_configured_and_only_then(start_gateway: StartGateway) -> None:
    on = start_gateway()
    off = start_gateway(GATEWAY_HSTS="")

    assert httpx.get(f"{on.url}/").headers["strict-transport-security"] == HSTS
    assert "strict-transport-security" not in httpx.get(f"{off.url}/").headers
    assert "strict-transport-security" not in httpx.get(f"{off.url}/api/user").headers


def test_the_access_log_keeps_no_query_and_no_referer(start_gateway: StartGateway) -> None:
    gateway = start_gateway()

    response = httpx.post(
        f"{gateway.url}/api/user/unsubscribe?token=secret-token-1",
        headers={"Referer": f"{gateway.url}/api/user/unsubscribe?token=secret-token-2"},
    )
    assert response.status_code == 200

    log = gateway.log_text(until=response.headers["x-request-id"])
    assert "POST /api/user/unsubscribe HTTP/1.1" in log
    assert response.headers["x-request-id"] in log
    assert "secret-token" not in log


def test_trusted_proxies_must_be_addresses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_TRUSTED_PROXIES", "10.0.0.0/8; include /etc/passwd")
    with pytest.raises(ValueError, match="not an address or a network"):
        GatewaySettings()
    monkeypatch.setenv("GATEWAY_TRUSTED_PROXIES", "")
    monkeypatch.setenv("GATEWAY_HSTS", 'max-age=1" always; evil')
    with pytest.raises(ValueError, match="max-age"):
        GatewaySettings()


ENVSH = Path(__file__).resolve().parents[1] / "docker-entrypoint.d"


@pytest.mark.parametrize("proxies", ["", "10.0.0.0/8", "10.0.0.0/8,172.16.0.0/12 fd00::/8"])
def test_the_image_derives_the_same_directives(
    proxies: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    (script,) = ENVSH.glob("*.envsh")
    sourced = subprocess.run(
        ["/bin/sh", "-c", '. "$0" && printf %s "$GATEWAY_REAL_IP_FROM"', str(script)],
        env={"GATEWAY_TRUSTED_PROXIES": proxies, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    monkeypatch.setenv("GATEWAY_TRUSTED_PROXIES", proxies)

    assert sourced.stdout == GatewaySettings().real_ip_from()


def test_the_image_refuses_a_proxy_that_is_not_an_address() -> None:
    (script,) = ENVSH.glob("*.envsh")
    sourced = subprocess.run(
        ["/bin/sh", "-c", '. "$0"', str(script)],
        env={"GATEWAY_TRUSTED_PROXIES": "10.0.0.0/8;evil", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )

    assert sourced.returncode == 1
    assert "GATEWAY_TRUSTED_PROXIES" in sourced.stderr


def test_the_live_stream_passes_through_as_it_is_sent(start_gateway: StartGateway) -> None:
    """Unbuffered: the first event arrives while the service still holds the stream open.
    And not rate limited: many streams open at once from one address."""
    gateway = start_gateway()
    try:
        with gateway.client() as client:
            for _ in range(30):
                with client.stream("GET", "/api/tasks/events", timeout=3) as response:
                    assert response.status_code == 200
                    assert response.headers["content-type"] == "text/event-stream"
                    first = next(response.iter_raw())
                    assert first.startswith(b"id: 1\nevent: task.created\n")
    finally:
        Echo.stream_released.set()
