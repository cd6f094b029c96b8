"""CPU time of processes, read from /proc (Linux): what a request costs, not only how long
it takes."""

import os
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CpuSample:
    """CPU seconds a process has used, read from /proc (Linux); ``None`` elsewhere."""

    at: float
    cpu_s: float

    @classmethod
    def take(cls, pid: int) -> "CpuSample | None":
        cpu_s = _cpu_seconds(pid)
        return None if cpu_s is None else cls(at=time.monotonic(), cpu_s=cpu_s)

    def cores_since(self, earlier: "CpuSample | None") -> float | None:
        if earlier is None or self.at <= earlier.at:
            return None
        return (self.cpu_s - earlier.cpu_s) / (self.at - earlier.at)


def _cpu_seconds(pid: int) -> float | None:
    ticks = clock_ticks(pid)
    return None if ticks is None else ticks / os.sysconf("SC_CLK_TCK")


def clock_ticks(pid: int) -> int | None:
    """User plus system CPU time of ``pid`` so far, in clock ticks; ``None`` when it is
    gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # utime and stime are fields 14 and 15 of stat(5); after the ")" they are 12 and 13.
    return int(fields[11]) + int(fields[12])


def process_tree(pid: int) -> list[int]:
    """``pid`` and each of its descendants alive now (Linux, /proc)."""
    found: list[int] = []
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        found.append(current)
        pending.extend(int(child) for child in children)
    return found


def tree_cpu(pid: int) -> dict[int, float]:
    """CPU seconds used so far by ``pid`` and each of its descendants alive now, by pid."""
    readings = {current: _cpu_seconds(current) for current in process_tree(pid)}
    return {current: cpu_s for current, cpu_s in readings.items() if cpu_s is not None}


def cpu_since(earlier: dict[int, float], now: dict[int, float]) -> float:
    """CPU seconds the processes of ``now`` used since ``earlier`` (both by pid; a process
    that ended between is not counted, so this can only undercount)."""
    return sum(cpu_s - earlier.get(pid, 0.0) for pid, cpu_s in now.items())


def postgres_cpu() -> dict[int, float]:
    """CPU seconds used so far by each PostgreSQL process of this machine, by pid."""
    readings: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != "postgres":
                continue
        except OSError:
            continue
        cpu_s = _cpu_seconds(int(entry.name))
        if cpu_s is not None:
            readings[int(entry.name)] = cpu_s
    return readings


def postgres_cpu_since(earlier: dict[int, float]) -> float:
    """CPU seconds PostgreSQL used since ``earlier`` (:func:`postgres_cpu`)."""
    return cpu_since(earlier, postgres_cpu())
