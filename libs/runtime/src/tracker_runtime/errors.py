"""One error type carrying a status and a message, and the handlers that render the pinned
error body ``{"message": ..., "errors": [...]?}`` for every failure, 422 included."""

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from pydantic_core import ErrorDetails
from sqlalchemy import exc as sqlalchemy_errors
from starlette.exceptions import HTTPException as StarletteHTTPException

logger = logging.getLogger(__name__)


class APIError(Exception):
    """An answer other than success, with the message a person will read.

    The request's transaction is rolled back, unless ``commit`` is set: some refusals
    must leave a trace (a counted failed login, a session revoked for token reuse).
    """

    def __init__(
        self,
        status_code: int,
        message: str,
        *,
        errors: Sequence[Mapping[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
        commit: bool = False,
    ) -> None:
        super().__init__(message)
        self.commit = commit
        self.status_code = status_code
        self.message = message
        self.errors = list(errors) if errors is not None else None
        self.headers = dict(headers) if headers else None

    def response(self) -> JSONResponse:
        return error_response(self.status_code, self.message, self.errors, self.headers)


class InvalidInput(APIError):
    """422 built from pydantic's validation errors, one entry per field."""

    def __init__(self, details: Sequence[ErrorDetails], *, skip_location: int = 0) -> None:
        errors = [
            {
                "field": ".".join(str(part) for part in detail["loc"][skip_location:]) or None,
                "message": _readable(detail),
            }
            for detail in details
        ]
        summary = "; ".join(
            f"{e['field']}: {e['message']}" if e["field"] else str(e["message"]) for e in errors
        )
        super().__init__(422, summary or "Invalid input", errors=errors)

    @classmethod
    def from_validation_error(cls, error: ValidationError) -> "InvalidInput":
        return cls(error.errors(include_url=False, include_input=False))


def _readable(detail: ErrorDetails) -> str:
    message = detail["msg"]
    if detail["type"] == "missing":
        return "This field is required"
    if detail["type"] == "extra_forbidden":
        return "Unknown field"
    if message.startswith("Value error, "):
        message = message.removeprefix("Value error, ")
    return message[:1].upper() + message[1:]


def error_response(
    status_code: int,
    message: str,
    errors: Sequence[Mapping[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"message": message}
    if errors is not None:
        body["errors"] = list(errors)
    return JSONResponse(body, status_code=status_code, headers=headers)


_HTTP_MESSAGES = {
    404: "Not found",
    405: "Method not allowed",
}


DATABASE_AWAY = "The service is briefly unavailable; try again shortly"
DATABASE_RETRY_AFTER_S = 5
DATABASE_AWAY_ERRORS: tuple[type[Exception], ...] = (
    sqlalchemy_errors.TimeoutError,  # every pooled connection busy for the whole pool timeout
    sqlalchemy_errors.OperationalError,  # the server is away, restarting or refusing
    sqlalchemy_errors.InterfaceError,  # the connection broke under the statement
    ConnectionError,  # refused or reset before the driver could wrap it
    TimeoutError,  # no answer to connect within its timeout
)
"""What a request meets when its database is away or overloaded: a 503 with
``Retry-After``, never a 500; the pool reconnects by itself once the database is back."""


def database_away(error: Exception) -> bool:
    """Whether ``error`` means the database is away: one of :data:`DATABASE_AWAY_ERRORS`, or
    any driver error on a connection the server ended under the statement (asyncpg's
    "connection was closed in the middle of operation", after ``pg_terminate_backend`` or a
    failover, reaches SQLAlchemy as a plain ``DBAPIError``, which invalidates the
    connection)."""
    if isinstance(error, DATABASE_AWAY_ERRORS):
        return True
    return isinstance(error, sqlalchemy_errors.DBAPIError) and error.connection_invalidated


def install_error_handlers(app: FastAPI) -> None:
    async def on_api_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, APIError)
        return exc.response()

    async def on_validation_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        details: Sequence[ErrorDetails] = exc.errors()
        # FastAPI locates errors as ("body" | "query" | "path", field, ...): drop the first.
        return InvalidInput(details, skip_location=1).response()

    async def on_http_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        message = exc.detail if isinstance(exc.detail, str) else None
        if not message or message in {"Not Found", "Method Not Allowed"}:
            message = _HTTP_MESSAGES.get(exc.status_code, "Request failed")
        return error_response(exc.status_code, message, headers=exc.headers)

    async def on_database_away(request: Request, exc: Exception) -> JSONResponse:
        logger.warning(
            "database unavailable on %s %s: %s",
            request.method,
            request.url.path,
            type(exc).__name__,
        )
        return error_response(
            503, DATABASE_AWAY, headers={"Retry-After": str(DATABASE_RETRY_AFTER_S)}
        )

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        if database_away(exc):  # raised past the handlers, in a dependency
            return await on_database_away(request, exc)
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "Internal server error")

    async def on_database_error(request: Request, exc: Exception) -> JSONResponse:
        if database_away(exc):  # its connection was ended under the statement
            return await on_database_away(request, exc)
        return await on_unexpected(request, exc)

    app.add_exception_handler(APIError, on_api_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    for error in DATABASE_AWAY_ERRORS:
        app.add_exception_handler(error, on_database_away)
    app.add_exception_handler(sqlalchemy_errors.DBAPIError, on_database_error)
    app.add_exception_handler(Exception, on_unexpected)
