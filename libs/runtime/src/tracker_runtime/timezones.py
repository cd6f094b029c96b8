"""IANA timezone names."""

from functools import lru_cache
from zoneinfo import available_timezones


@lru_cache(maxsize=1)
def known_timezones() -> frozenset[str]:
    return frozenset(available_timezones())


def validate_timezone(name: str) -> str:
    """``name`` if it is an IANA timezone, else ``ValueError`` with a readable message."""
    if name not in known_timezones():
        raise ValueError(f"Unknown timezone {name!r}; use an IANA name such as 'Europe/Berlin'")
    return name
