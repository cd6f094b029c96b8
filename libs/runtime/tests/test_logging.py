"""LOG_LEVEL decides for uvicorn's loggers too, and ``--no-access-log`` stays off."""

import logging
from collections.abc import Iterator

import pytest
import uvicorn

from tracker_runtime.logging import configure_logging

UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


@pytest.fixture(autouse=True)
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    saved_root = (root.level, root.handlers[:])
    saved = {
        name: (lg.level, lg.handlers[:], lg.propagate, lg.disabled, lg.filters[:])
        for name in UVICORN_LOGGERS
        for lg in [logging.getLogger(name)]
    }
    try:
        yield
    finally:
        root.setLevel(saved_root[0])
        root.handlers[:] = saved_root[1]
        for name, (level, handlers, propagate, disabled, filters) in saved.items():
            lg = logging.getLogger(name)
            lg.setLevel(level)
            lg.handlers[:] = handlers
            lg.propagate, lg.disabled = propagate, disabled
            lg.filters[:] = filters


def started(*, access_log: bool, level: str) -> logging.Logger:
    """uvicorn's access logger once uvicorn configured its logging (as its command line
    does, before it calls the app factory) and then the service did."""
    uvicorn.Config(app=lambda: None, access_log=access_log)
    configure_logging(level)
    return logging.getLogger("uvicorn.access")


def test_the_access_log_follows_log_level() -> None:
    access = started(access_log=True, level="INFO")

    assert access.isEnabledFor(logging.INFO)
    assert access.propagate


def test_log_level_warning_silences_the_access_log() -> None:
    access = started(access_log=True, level="WARNING")

    assert not access.isEnabledFor(logging.INFO)
    assert not logging.getLogger("uvicorn.error").isEnabledFor(logging.INFO)


def test_no_access_log_stays_off() -> None:
    access = started(access_log=False, level="INFO")

    assert access.disabled
    assert logging.getLogger("uvicorn.error").isEnabledFor(logging.INFO)
