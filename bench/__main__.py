"""``python -m bench [SCENARIO...]``: run the named scenarios (all when none is named),
print their figures and write them to ``bench/results/<scenario>.json``.

Figures are information, never assertions: the exit status is non-zero only when a
scenario could not run (or was interrupted), not when a figure misses a goal.
"""

import argparse
import sys
import traceback
from collections.abc import Callable, Sequence

from bench import auth, digest, erase, live, mail, relay, reminders, tasks
from bench.progress import say
from bench.report import ScenarioReport, render

Scenario = Callable[[], ScenarioReport]

SCENARIOS: dict[str, Scenario] = {
    auth.NAME: auth.run,
    relay.NAME: relay.run,
    mail.NAME: mail.run,
    digest.NAME: digest.run,
    erase.NAME: erase.run,
    reminders.NAME: reminders.run,
    tasks.NAME: tasks.run,
    live.NAME: live.run,
}
PROFILED: dict[str, Callable[[bool], ScenarioReport]] = {tasks.NAME: tasks.run}
"""The scenarios that can record their service with py-spy (``--profile``)."""


def _arguments(argv: Sequence[str] | None) -> tuple[list[str], bool]:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description="Measure throughput and latency of the services."
    )
    parser.add_argument(
        "scenarios",
        nargs="*",
        metavar="SCENARIO",
        help=f"scenarios to run (default: all): {', '.join(SCENARIOS)}",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help=f"record the service with py-spy and print where the time goes "
        f"(scenarios {', '.join(PROFILED)})",
    )
    arguments = parser.parse_args(argv)
    names: list[str] = arguments.scenarios or list(SCENARIOS)
    unknown = [name for name in names if name not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario {', '.join(unknown)}; known: {', '.join(SCENARIOS)}")
    if arguments.profile and (unprofiled := [n for n in names if n not in PROFILED]):
        parser.error(f"--profile: {', '.join(unprofiled)} cannot be profiled")
    return names, arguments.profile


def main(argv: Sequence[str] | None = None) -> int:
    names, profile = _arguments(argv)
    failed: list[str] = []
    for name in names:
        say(f"scenario {name}")
        try:
            report = PROFILED[name](True) if profile else SCENARIOS[name]()
        except KeyboardInterrupt:
            say(f"scenario {name} interrupted; its processes are stopped")
            return 130
        except Exception:  # report it and go on with the other scenarios
            traceback.print_exc()
            say(f"scenario {name} failed")
            failed.append(name)
            continue
        path = report.write_json()
        print(render(report), flush=True)
        print(flush=True)
        say(f"scenario {name} done; figures written to {path}")
    if failed:
        say(f"failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
