"""``make digest AT=<ISO-8601 instant>``: what a scheduler tick at that instant does.

Runs the tick here, printing progress, with the same claims as the worker's ticks (so
running it twice, or beside the scheduler, never sends a digest twice); the mails go to
the notifier's queue like a tick's, and the running worker sends them.
"""

import argparse
import sys
from datetime import datetime

from tracker_notifier.context import get_context
from tracker_notifier.digest.service import TickReport
from tracker_notifier.tasks import digest_run


def instant(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"{value!r} has no UTC offset; write e.g. 2026-11-24T00:01:00Z"
        )
    return parsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make digest", description=__doc__)
    parser.add_argument("--at", type=instant, required=True, help="the tick's instant")
    arguments = parser.parse_args(argv)

    def progress(report: TickReport) -> None:
        print(f"  {report.users} users claimed, {report.mails} mails queued", flush=True)

    context = get_context()
    try:
        report = digest_run(context, progress=progress).tick(arguments.at)
    finally:
        context.close()
    print(report.line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
