"""Where a process spends its time under load: a py-spy recording, summed up.

``start(pid, seconds, into)`` samples the thread that holds the GIL (``--gil``: time spent
waiting, in the event loop's poll or a pool's idle threads, is not work) and ``finish``
waits for py-spy's collapsed stacks, one ``frame;frame;... count`` line per distinct
stack; :func:`summary` turns them into the functions with the most samples, on top
of the stack (self) and anywhere in it (inclusive), as shares of all samples. The file stays
beside the scenario's results for a closer look (``flamegraph.pl`` or speedscope read it).
"""

import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

SAMPLING_RATE = 200
"""Samples per second: enough for a 10 s run to show anything above 1 %."""


class ProfilerMissing(RuntimeError):
    """py-spy is not installed beside this interpreter (it is a development dependency)."""


@dataclass(frozen=True)
class Hotspot:
    function: str
    self_share: float
    inclusive_share: float


def _py_spy() -> str:
    beside = Path(sys.executable).with_name("py-spy")
    found = str(beside) if beside.exists() else shutil.which("py-spy")
    if found is None:
        raise ProfilerMissing("py-spy is not installed: run `make install`")
    return found


def start(pid: int, seconds: float, into: Path) -> subprocess.Popen[bytes]:
    """Start recording ``pid`` for ``seconds`` into ``into`` (collapsed stacks)."""
    into.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [
            _py_spy(),
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(max(1, round(seconds))),
            "--rate",
            str(SAMPLING_RATE),
            "--gil",
            "--format",
            "raw",
            "--output",
            str(into),
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def finish(recording: subprocess.Popen[bytes]) -> None:
    _, errors = recording.communicate(timeout=120)
    if recording.returncode != 0:
        raise RuntimeError(f"py-spy failed: {errors.decode(errors='replace').strip()}")


def _function(frame: str) -> str:
    """``handler (module/path.py:42)`` as ``handler (module/path.py)``: one entry per
    function, whatever line it was on."""
    name, _, where = frame.partition(" (")
    return f"{name} ({where.rsplit(':', 1)[0]})" if where else name


def summary(collapsed: Path, top: int = 15) -> tuple[int, list[Hotspot]]:
    """The number of samples, and the ``top`` functions by self time with their inclusive
    share."""
    own: Counter[str] = Counter()
    anywhere: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_function(frame) for frame in stack.split(";")]
        total += count
        own[frames[-1]] += count
        for function in set(frames):
            anywhere[function] += count
    hotspots = [
        Hotspot(function, count / total, anywhere[function] / total)
        for function, count in own.most_common(top)
    ]
    return total, hotspots


def inclusive(collapsed: Path, functions: dict[str, str]) -> dict[str, float]:
    """The inclusive share of each named part: ``{label: substring of a frame}``; a sample
    counts for a part when any of its frames contains the substring."""
    shares: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        total += int(count_text)
        for label, needle in functions.items():
            if needle in stack:
                shares[label] += int(count_text)
    return {label: shares[label] / total if total else 0.0 for label in functions}
