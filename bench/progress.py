"""Progress lines, so that a long benchmark never looks stuck."""

import sys
import time

_STARTED = time.monotonic()


def say(message: str) -> None:
    """Print ``message`` at once, prefixed with the seconds since the benchmark started."""
    print(f"[{time.monotonic() - _STARTED:6.1f}s] {message}", file=sys.stderr, flush=True)
