"""``python -m chaos [--profile full|short]`` (``make chaos``): run the scenario, print
the table of its checks and counts; the exit status is 1 when a check failed."""

import argparse
import asyncio
import sys
from collections.abc import Sequence

from bench.services import ROOT
from chaos.profile import FULL, PROFILES
from chaos.scenario import run
from chaos.stack import CHAOS_NAMES


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chaos", description=__doc__)
    parser.add_argument("--profile", choices=sorted(PROFILES), default=FULL.name)
    parser.add_argument("--seed", type=int, default=18, help="of the people's choices")
    arguments = parser.parse_args(argv)
    workdir = ROOT / ".run" / "chaos"
    try:
        outcome = asyncio.run(
            run(PROFILES[arguments.profile], CHAOS_NAMES, workdir, seed=arguments.seed)
        )
    except KeyboardInterrupt:
        print("interrupted; every process of the run is stopped", file=sys.stderr)
        return 130
    print(outcome.table(), flush=True)
    for line in outcome.unexpected[:10]:
        print(f"unexpected answer: {line}")
    print(f"\nlogs of every process: {workdir / 'logs'}")
    return 0 if outcome.ok else 1


if __name__ == "__main__":
    sys.exit(main())
