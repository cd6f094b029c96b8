"""Password hashing with argon2id through the passlib API, always off the event loop."""

from functools import lru_cache

import anyio
from passlib.hash import argon2
from zxcvbn.frequency_lists import FREQUENCY_LISTS

from tracker_auth.config import Settings

MIN_LENGTH = 8
MAX_LENGTH = 128
COMMON_PASSWORDS_CHECKED = 10_000


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The most used passwords (zxcvbn's ranked list) that are long enough to be accepted."""
    ranked = FREQUENCY_LISTS["passwords"][:COMMON_PASSWORDS_CHECKED]
    return frozenset(p for p in ranked if len(p) >= MIN_LENGTH)


def is_common(password: str) -> bool:
    return password.lower() in common_passwords()


class PasswordHasher:
    """argon2id hashing and verification in a bounded thread pool.

    argon2-cffi releases the GIL while it hashes, so the event loop keeps serving other
    requests; the limiter keeps hashing from oversubscribing the CPU.
    """

    def __init__(self, settings: Settings) -> None:
        self._scheme = argon2.using(
            type="ID",
            memory_cost=settings.password_memory_cost_kib,
            time_cost=settings.password_time_cost,
            parallelism=1,
        )
        self._limiter = anyio.CapacityLimiter(settings.password_hashing_threads)
        # Verified against when the email is unknown, so that such a login costs the same.
        self._dummy_hash = self._scheme.hash("dummy password for unknown accounts")

    async def hash(self, password: str) -> str:
        digest: str = await anyio.to_thread.run_sync(
            self._scheme.hash, password, limiter=self._limiter
        )
        return digest

    async def verify(self, password: str, digest: str | None) -> bool:
        """Whether ``password`` matches ``digest``; with no digest, spend the same time and
        answer ``False``."""
        matches: bool = await anyio.to_thread.run_sync(
            self._scheme.verify, password, digest or self._dummy_hash, limiter=self._limiter
        )
        return matches and digest is not None

    def needs_rehash(self, digest: str) -> bool:
        return bool(self._scheme.needs_update(digest))
