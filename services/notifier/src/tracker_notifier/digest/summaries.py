"""The tasks service's summaries API, over internal HTTP with a service token.

One call per batch of users (never one per user). The token comes from the auth service
(OAuth 2 client credentials) and is reused until shortly before it expires; a 401 fetches
a new one once. Connection failures, timeouts, 429 and 5xx answers are retried with
backoff; when the service stays away, :class:`SummariesUnavailable` tells the caller to
give the batch back (its claims roll back) and try again later.
"""

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import date, datetime

import httpx

from tracker_contracts.internal import (
    SUMMARIES_PATH,
    SUMMARIES_SCOPE,
    ServiceTokenResponse,
    SummariesRequest,
    SummariesResponse,
    UserSummary,
)
from tracker_notifier.config import Settings
from tracker_runtime.backoff import backoff_delay
from tracker_runtime.logging import request_id_var

logger = logging.getLogger("tracker.notifier.summaries")

TOKEN_PATH = "/internal/token"
ATTEMPTS = 4
TOKEN_MARGIN = 30.0
"""Seconds before its expiry at which a service token is replaced."""
RETRIED_STATUSES = frozenset({429, 502, 503, 504})


class SummariesUnavailable(Exception):
    """The summaries could not be fetched now; the batch should be tried again later."""


class SummariesClient:
    """Not thread-safe: one per worker process, like the mailer."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._http = httpx.Client(
            timeout=httpx.Timeout(settings.http_timeout, connect=min(5.0, settings.http_timeout)),
            headers={"User-Agent": "task-tracker-notifier"},
        )
        self._token: str | None = None
        self._token_expires = 0.0

    def close(self) -> None:
        self._http.close()

    def fetch(
        self,
        user_ids: Sequence[uuid.UUID],
        *,
        start: datetime,
        end: datetime,
        day: date,
        titles: int,
    ) -> dict[uuid.UUID, UserSummary]:
        """The summaries of ``user_ids`` for ``[start, end)``, the local ``day``, by user."""
        body = SummariesRequest(
            user_ids=list(user_ids), start=start, end=end, day=day, titles=titles
        )
        payload = body.model_dump(mode="json")
        url = self._settings.tasks_url.rstrip("/") + SUMMARIES_PATH
        response = self._call(lambda: self._http.post(url, json=payload, headers=self._headers()))
        if response.status_code == 401:  # the token expired early or the keys rotated
            self._token = None
            response = self._call(
                lambda: self._http.post(url, json=payload, headers=self._headers())
            )
        if response.status_code != 200:
            raise SummariesUnavailable(
                f"the summaries API answered {response.status_code}: {response.text[:200]}"
            )
        summaries = SummariesResponse.model_validate_json(response.content).summaries
        return {summary.user_id: summary for summary in summaries}

    def _headers(self) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self._service_token()}"}
        if request_id := request_id_var.get():
            headers["X-Request-ID"] = request_id
        return headers

    def _service_token(self) -> str:
        if self._token is not None and time.monotonic() < self._token_expires:
            return self._token
        url = self._settings.auth_url.rstrip("/") + TOKEN_PATH
        auth = (self._settings.client_id, self._settings.client_secret.get_secret_value())
        data = {"grant_type": "client_credentials", "scope": SUMMARIES_SCOPE}
        response = self._call(lambda: self._http.post(url, data=data, auth=auth))
        if response.status_code != 200:
            raise SummariesUnavailable(
                f"no service token: auth answered {response.status_code}: {response.text[:200]}"
            )
        token = ServiceTokenResponse.model_validate_json(response.content)
        self._token = token.access_token
        self._token_expires = time.monotonic() + max(0.0, token.expires_in - TOKEN_MARGIN)
        return token.access_token

    def _call(self, send: Callable[[], httpx.Response]) -> httpx.Response:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                response = send()
            except httpx.TransportError as error:
                problem = f"{type(error).__name__}: {error}"
            else:
                if response.status_code not in RETRIED_STATUSES:
                    return response
                problem = f"status {response.status_code}"
            if attempt == ATTEMPTS:
                raise SummariesUnavailable(f"gave up after {ATTEMPTS} attempts: {problem}")
            delay = backoff_delay(attempt, base=0.5, cap=5.0)
            logger.warning("internal call failed (%s), retrying in %.1fs", problem, delay)
            time.sleep(delay)
        raise AssertionError("unreachable")
