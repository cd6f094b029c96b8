"""The one retry loop: backed off, told about each failure, stopped on demand."""

import asyncio

import pytest

from tracker_runtime.backoff import Stopped, backoff_delay, retrying


def test_the_delay_doubles_up_to_the_cap_with_jitter_below_it() -> None:
    delays = [backoff_delay(attempt, base=1.0, cap=8.0) for attempt in (1, 2, 3, 4, 5, 6)]

    for delay, ceiling in zip(delays, (1, 2, 4, 8, 8, 8), strict=True):
        assert ceiling / 2 <= delay <= ceiling


async def test_an_operation_is_retried_until_it_succeeds() -> None:
    calls: list[int] = []
    failures: list[tuple[str, int]] = []

    async def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError(f"down {len(calls)}")
        return "done"

    def note(error: Exception, failure: int, delay: float) -> None:
        assert 0 < delay <= 0.01
        failures.append((str(error), failure))

    assert await retrying(flaky, on_failure=note, base=0.005, cap=0.01) == "done"
    assert failures == [("down 1", 1), ("down 2", 2)]


async def test_an_error_not_worth_retrying_propagates_at_once() -> None:
    async def wrong() -> None:
        raise ValueError("not an outage")

    with pytest.raises(ValueError, match="not an outage"):
        await retrying(
            wrong,
            on_failure=lambda *_: pytest.fail("not retried"),
            is_retryable=lambda error: isinstance(error, ConnectionError),
            cap=0.01,
        )


async def test_stopping_ends_the_wait() -> None:
    stop = asyncio.Event()

    async def down() -> None:
        raise ConnectionError("down")

    async def note(_error: Exception, _failure: int, _delay: float) -> None:
        stop.set()

    async with asyncio.timeout(1):  # the delay would be a minute
        with pytest.raises(Stopped):
            await retrying(down, on_failure=note, base=60.0, cap=60.0, stop=stop)
