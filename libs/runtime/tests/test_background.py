"""The periodic housekeeping loop every service's clean-ups run in."""

import asyncio
import logging
from datetime import timedelta

import pytest

from tracker_runtime.background import BackgroundLoops, every


async def test_a_failing_round_is_logged_and_the_next_one_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rounds: list[int] = []
    twice = asyncio.Event()

    async def job() -> None:
        rounds.append(len(rounds) + 1)
        if len(rounds) == 1:
            raise ConnectionRefusedError("database away")
        twice.set()

    loops = BackgroundLoops()
    with caplog.at_level(logging.WARNING, logger="tracker.background"):
        loops.start({"cleanup": every(timedelta(milliseconds=10), job, "test cleanup")})
        try:
            await asyncio.wait_for(twice.wait(), timeout=5)
        finally:
            await loops.cancel()

    assert rounds[:2] == [1, 2]
    [warning] = [record for record in caplog.records if record.name == "tracker.background"]
    assert "test cleanup failed" in warning.getMessage()
    assert "ConnectionRefusedError: database away" in warning.getMessage()


async def test_the_first_round_waits_one_interval() -> None:
    calls: list[None] = []

    async def job() -> None:
        calls.append(None)

    loops = BackgroundLoops()
    loops.start({"cleanup": every(timedelta(hours=1), job, "test cleanup")})
    await asyncio.sleep(0.05)
    await loops.cancel()

    assert calls == []
