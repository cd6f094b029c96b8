"""The auth service's public keys, fetched over HTTP and cached.

A token naming an unknown ``kid`` (auth rotated its key) triggers a refetch, at most once
per ``min_refresh_interval`` so that made-up ``kid`` values cannot turn every request into
a call to auth. When auth cannot be reached, the cached keys keep working.
"""

import asyncio
import logging
import time

import httpx
import jwt

from tracker_runtime.errors import APIError

logger = logging.getLogger(__name__)


class RemoteKeySet:
    def __init__(
        self,
        url: str,
        *,
        client: httpx.AsyncClient | None = None,
        max_age: float = 300.0,
        min_refresh_interval: float = 10.0,
    ) -> None:
        self._url = url
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(timeout=httpx.Timeout(5.0))
        self._max_age = max_age
        self._min_refresh_interval = min_refresh_interval
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = float("-inf")
        self._attempted_at = float("-inf")
        self._lock = asyncio.Lock()

    async def key_for(self, kid: str) -> jwt.PyJWK | None:
        now = time.monotonic()
        stale = now - self._fetched_at > self._max_age
        unknown = kid not in self._keys
        if (stale or unknown) and now - self._attempted_at >= self._min_refresh_interval:
            await self._refresh()
        elif unknown and self._lock.locked():
            async with self._lock:  # a fetch is under way: wait for the keys it brings
                pass
        if not self._keys:
            raise APIError(503, "Cannot verify tokens right now; try again shortly")
        return self._keys.get(kid)

    async def _refresh(self) -> None:
        async with self._lock:
            if time.monotonic() - self._attempted_at < self._min_refresh_interval:
                return  # another request refreshed while this one waited
            self._attempted_at = time.monotonic()
            try:
                response = await self._client.get(self._url)
                response.raise_for_status()
                key_set = jwt.PyJWKSet.from_dict(response.json())
            except (httpx.HTTPError, jwt.PyJWKSetError, ValueError) as error:
                logger.warning("cannot fetch the JWKS from %s: %s", self._url, error)
                return
            self._keys = {key.key_id: key for key in key_set.keys if key.key_id}
            self._fetched_at = time.monotonic()

    async def aclose(self) -> None:
        """Close the HTTP client if it is this key set's own; a given one stays the caller's."""
        if self._owns_client:
            await self._client.aclose()
