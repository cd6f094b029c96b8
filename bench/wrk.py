"""Run ``wrk`` as a subprocess and parse what it prints."""

import re
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from bench.progress import say
from devsupport.processes import stop_process

_TIME_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_TIME = r"([\d.]+)(us|ms|s|m|h)"
_PERCENTILE = re.compile(rf"^\s*([\d.]+)%\s+{_TIME}\s*$", re.MULTILINE)
_LATENCY_STATS = re.compile(rf"^\s*Latency\s+{_TIME}\s+{_TIME}\s+{_TIME}", re.MULTILINE)
_TOTALS = re.compile(rf"^\s*(\d+) requests in {_TIME}", re.MULTILINE)
_RATE = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_NON_2XX = re.compile(r"^\s*Non-2xx or 3xx responses:\s+(\d+)", re.MULTILINE)
_SOCKET_ERRORS = re.compile(
    r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", re.MULTILINE
)


class WrkOutputError(ValueError):
    """wrk printed something this parser does not understand."""


def to_ms(value: str, unit: str) -> float:
    """A wrk duration such as ``12.34`` ``ms`` in milliseconds (units us, ms, s, m, h)."""
    try:
        return float(value) * _TIME_UNITS_MS[unit]
    except KeyError:
        raise WrkOutputError(f"unknown time unit {unit!r}") from None


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run measured; latencies in milliseconds."""

    requests: int
    elapsed_s: float
    requests_per_s: float
    latency_avg_ms: float
    latency_max_ms: float
    percentiles_ms: dict[str, float] = field(default_factory=dict)
    non_2xx_3xx: int = 0
    socket_errors: dict[str, int] = field(default_factory=dict)

    def percentile(self, name: str) -> float | None:
        """The latency at ``name`` (``"50"``, ``"99"``...), if wrk printed it."""
        return self.percentiles_ms.get(name)

    @property
    def errors(self) -> int:
        return sum(self.socket_errors.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "elapsed_s": self.elapsed_s,
            "requests_per_s": self.requests_per_s,
            "latency_avg_ms": self.latency_avg_ms,
            "latency_max_ms": self.latency_max_ms,
            "latency_percentiles_ms": self.percentiles_ms,
            "non_2xx_3xx": self.non_2xx_3xx,
            "socket_errors": self.socket_errors,
        }


def _percentile_key(value: str) -> str:
    number = float(value)
    return str(int(number)) if number.is_integer() else str(number)


def parse_wrk_output(text: str) -> WrkResult:
    """Parse wrk's report (with or without ``--latency``).

    >>> report = '''
    ...     Latency     1.20ms  300.00us  15.00ms   90.00%
    ...   Latency Distribution
    ...      50%    1.10ms
    ...      99%  850.00us
    ...   1200 requests in 10.00s, 190.00KB read
    ...   Non-2xx or 3xx responses: 3
    ... Requests/sec:    119.95
    ... '''
    >>> result = parse_wrk_output(report)
    >>> result.percentiles_ms["99"], result.non_2xx_3xx, result.requests_per_s
    (0.85, 3, 119.95)
    """
    rate = _RATE.search(text)
    totals = _TOTALS.search(text)
    stats = _LATENCY_STATS.search(text)
    if rate is None or totals is None or stats is None:
        raise WrkOutputError(f"not a wrk report:\n{text}")
    percentiles: dict[str, float] = {}
    if "Latency Distribution" in text:
        distribution = text.split("Latency Distribution", 1)[1]
        for match in _PERCENTILE.finditer(distribution):
            percentiles[_percentile_key(match.group(1))] = to_ms(match.group(2), match.group(3))
    non_2xx = _NON_2XX.search(text)
    socket = _SOCKET_ERRORS.search(text)
    socket_errors = (
        dict(zip(("connect", "read", "write", "timeout"), map(int, socket.groups()), strict=True))
        if socket
        else {}
    )
    return WrkResult(
        requests=int(totals.group(1)),
        elapsed_s=to_ms(totals.group(2), totals.group(3)) / 1000.0,
        requests_per_s=float(rate.group(1)),
        latency_avg_ms=to_ms(stats.group(1), stats.group(2)),
        latency_max_ms=to_ms(stats.group(5), stats.group(6)),
        percentiles_ms=percentiles,
        non_2xx_3xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=socket_errors,
    )


@dataclass(frozen=True)
class WrkLoad:
    """One wrk invocation: ``wrk -t THREADS -c CONNECTIONS -d DURATION --latency URL``."""

    url: str
    threads: int = 1
    connections: int = 8
    duration_s: int = 10
    timeout_s: int = 10
    script: Path | None = None
    script_args: Sequence[str] = ()

    def command(self) -> list[str]:
        executable = shutil.which("wrk")
        if executable is None:
            raise FileNotFoundError("wrk is not installed; `make install` installs it")
        command = [
            executable,
            f"-t{self.threads}",
            f"-c{self.connections}",
            f"-d{self.duration_s}s",
            f"--timeout={self.timeout_s}s",
            "--latency",
        ]
        if self.script is not None:
            command += ["-s", str(self.script)]
        command.append(self.url)
        if self.script_args:
            command += ["--", *self.script_args]
        return command

    def describe(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "threads": self.threads,
            "connections": self.connections,
            "duration_s": self.duration_s,
            "script": self.script.name if self.script else None,
        }


class WrkRun:
    """A wrk process running in the background; a context manager that never leaves it
    behind. ``result()`` waits for it and parses its report."""

    def __init__(self, load: WrkLoad) -> None:
        self.load = load
        self._process: subprocess.Popen[str] | None = None

    def __enter__(self) -> Self:
        self._process = subprocess.Popen(
            self.load.command(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def wait(self, label: str, *, every_s: float = 5.0) -> None:
        """Wait for wrk to finish, printing a progress line every ``every_s`` seconds."""
        process = self._running()
        started = time.monotonic()
        next_report = every_s
        while process.poll() is None:
            time.sleep(0.1)
            elapsed = time.monotonic() - started
            if next_report <= elapsed < self.load.duration_s and process.poll() is None:
                say(f"  {label}: {elapsed:.0f}/{self.load.duration_s} s")
                next_report += every_s

    def result(self) -> WrkResult:
        process = self._running()
        stdout, stderr = process.communicate(timeout=self.load.duration_s + 60)
        if process.returncode != 0:
            raise RuntimeError(f"wrk failed ({process.returncode}):\n{stderr}{stdout}")
        if stderr.strip():
            say(f"  wrk said: {stderr.strip()}")
        return parse_wrk_output(stdout)

    def stop(self) -> None:
        if self._process is not None:
            stop_process(self._process, timeout=5)

    def _running(self) -> subprocess.Popen[str]:
        if self._process is None:
            raise RuntimeError("wrk was not started; use `with WrkRun(load) as run:`")
        return self._process


def run_wrk(load: WrkLoad, label: str) -> WrkResult:
    """Run wrk in the foreground, with progress lines, and return what it measured."""
    with WrkRun(load) as run:
        run.wait(label)
        return run.result()
