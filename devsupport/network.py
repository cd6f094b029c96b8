"""Local ports and HTTP health, for tests and benchmarks that start processes."""

import socket
import subprocess
import time

import httpx


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until_healthy(url: str, process: subprocess.Popen[bytes], timeout_s: float) -> str | None:
    """Poll ``url`` until it answers 200; ``None`` then, else why it never did (the
    process exited, or the time ran out)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return f"the process exited ({process.returncode})"
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return None
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    return f"{url} did not answer within {timeout_s:.0f} s"
