"""Structured logging: one event per line, readable in development, JSON in containers.

Every line carries the current request id, so one request can be followed across services.
"""

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

_STANDARD_ATTRIBUTES = frozenset(
    logging.LogRecord("", 0, "", 0, "", (), None).__dict__.keys()
    | {"message", "asctime", "color_message", "taskName"}
)


def _extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD_ATTRIBUTES}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if request_id := request_id_var.get():
            entry["request_id"] = request_id
        entry.update(_extra_fields(record))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class ReadableFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = _extra_fields(record)
        if request_id := request_id_var.get():
            fields = {"request_id": request_id, **fields}
        if fields:
            line += " " + " ".join(f"{key}={value}" for key, value in fields.items())
        return line


REDACTED = "[redacted]"


def redact_query(path: str) -> str:
    """``path`` with the value of every query parameter that may hold a secret (its name
    contains "token", "secret", "password" or "code") replaced by ``[redacted]``."""
    target, separator, query = path.partition("?")
    if not separator:
        return path
    parameters = []
    for parameter in query.split("&"):
        name, equals, _value = parameter.partition("=")
        secret = any(word in name.lower() for word in _SECRET_PARAMETER_WORDS)
        parameters.append(f"{name}={REDACTED}" if equals and secret else parameter)
    return f"{target}?{'&'.join(parameters)}"


_SECRET_PARAMETER_WORDS = ("token", "secret", "password", "code")


class RedactAccessLog(logging.Filter):
    """Keep secrets in query strings (the unsubscribe link's token) out of uvicorn's access
    log, whose arguments are (client, method, path with query, HTTP version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact_query(args[2]), *args[3:])
        return True


def configure_logging(level: str = "INFO", *, json_lines: bool = False) -> None:
    """Send every logger, uvicorn's included, through one handler on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_lines else ReadableFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        if name == "uvicorn.access" and not logger.handlers and not logger.propagate:
            # ``uvicorn --no-access-log`` left it so: it stays off.
            logger.disabled = True
        logger.handlers.clear()
        logger.propagate = True
        # ``LOG_LEVEL`` decides, not the INFO uvicorn sets on its own loggers.
        logger.setLevel(logging.NOTSET)
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactAccessLog) for f in access.filters):
        access.addFilter(RedactAccessLog())
