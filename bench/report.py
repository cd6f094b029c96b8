"""What a scenario reports: a compact table on stdout and the same figures as JSON."""

import json
import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.services import RESULTS
from bench.wrk import WrkLoad, WrkResult


@dataclass(frozen=True)
class Measurement:
    """One wrk run of a scenario, under a short key (also its key in the JSON)."""

    key: str
    label: str
    load: WrkLoad
    result: WrkResult

    def as_dict(self) -> dict[str, Any]:
        return {"label": self.label, "load": self.load.describe(), **self.result.as_dict()}


@dataclass
class ScenarioReport:
    name: str
    title: str
    measurements: list[Measurement] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.name,
            "title": self.title,
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
            "settings": self.settings,
            "measurements": {m.key: m.as_dict() for m in self.measurements},
            "figures": self.figures,
        }

    def write_json(self, directory: Path = RESULTS) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{self.name}.json"
        path.write_text(json.dumps(self.as_dict(), indent=2) + "\n")
        return path


def percentile(values: list[float], fraction: float) -> float:
    """The value at ``fraction`` (0.99 for p99) of ``values``, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def latency_figures(seconds: list[float]) -> dict[str, float | None]:
    """p50, p99 and max of ``seconds``, in milliseconds (``None`` for no values)."""
    if not seconds:
        return {"p50_ms": None, "p99_ms": None, "max_ms": None}
    return {
        "p50_ms": round(percentile(seconds, 0.50) * 1000, 1),
        "p99_ms": round(percentile(seconds, 0.99) * 1000, 1),
        "max_ms": round(max(seconds) * 1000, 1),
    }


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if value < 100 else f"{value:.0f}"


COLUMNS = (
    "measurement",
    "conns",
    "req/s",
    "p50 ms",
    "p90 ms",
    "p99 ms",
    "max ms",
    "non-2xx",
    "errors",
)


def table(measurements: Sequence[Measurement]) -> str:
    rows = [
        (
            m.label,
            str(m.load.connections),
            f"{m.result.requests_per_s:.1f}",
            _ms(m.result.percentile("50")),
            _ms(m.result.percentile("90")),
            _ms(m.result.percentile("99")),
            _ms(m.result.latency_max_ms),
            str(m.result.non_2xx_3xx),
            str(m.result.errors),
        )
        for m in measurements
    ]
    widths = [max(len(row[i]) for row in [COLUMNS, *rows]) for i in range(len(COLUMNS))]

    def line(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True))
        return "  ".join([first, *rest])

    rule = "-" * len(line(COLUMNS))
    return "\n".join([line(COLUMNS), rule, *(line(row) for row in rows)])


def render(report: ScenarioReport) -> str:
    settings = ", ".join(f"{key}={value}" for key, value in report.settings.items())
    parts = [f"== {report.name}: {report.title}"]
    if settings:
        parts.append(f"settings: {settings}")
    if report.measurements:
        parts += ["", table(report.measurements)]
    if report.notes:
        parts += ["", *report.notes]
    return "\n".join(parts)
