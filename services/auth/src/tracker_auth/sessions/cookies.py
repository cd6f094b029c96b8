"""The session cookies: HttpOnly, SameSite=Strict, Secure unless turned off for plain-HTTP
development; the refresh cookie travels only to the session endpoints."""

from datetime import UTC, datetime

from fastapi import Response

from tracker_auth.config import Settings
from tracker_auth.tokens import IssuedTokens
from tracker_runtime.tokens import ACCESS_COOKIE, REFRESH_COOKIE

ACCESS_COOKIE_PATH = "/api"
REFRESH_COOKIE_PATH = "/api/session"


def set_session_cookies(response: Response, tokens: IssuedTokens, settings: Settings) -> None:
    now = datetime.now(UTC)
    for name, value, path, expires_at in (
        (ACCESS_COOKIE, tokens.access_token, ACCESS_COOKIE_PATH, tokens.access_expires_at),
        (REFRESH_COOKIE, tokens.refresh_token, REFRESH_COOKIE_PATH, tokens.refresh_expires_at),
    ):
        response.set_cookie(
            name,
            value,
            max_age=max(0, int((expires_at - now).total_seconds())),
            path=path,
            secure=settings.cookie_secure,
            httponly=True,
            samesite="strict",
        )


def clear_session_cookies(response: Response, settings: Settings) -> None:
    for name, path in ((ACCESS_COOKIE, ACCESS_COOKIE_PATH), (REFRESH_COOKIE, REFRESH_COOKIE_PATH)):
        response.delete_cookie(
            name, path=path, secure=settings.cookie_secure, httponly=True, samesite="strict"
        )
