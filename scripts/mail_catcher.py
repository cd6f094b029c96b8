"""The development mail catcher: an SMTP server that keeps every mail as a file.

Usage: ``python -m scripts.mail_catcher`` (``make dev`` runs it). It listens on
``127.0.0.1:1025`` (``MAIL_CATCHER_HOST``, ``MAIL_CATCHER_PORT``), stores each message as an
``.eml`` file under ``.run/mail/`` (``MAIL_CATCHER_DIR``), with a ``.txt`` beside it holding
its headers and its text part decoded (so that ``grep`` finds the links in it), and logs its
recipients and subject, until Ctrl-C. Open the ``.eml`` files with any mail client to see
the mail as sent. Its
settings are read like every other process's (``tracker_runtime.settings``).

:class:`MailCatcher` is an aiosmtpd handler; tests reuse it for a real SMTP server.
"""

import logging
import signal
import threading
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Annotated, Any

from aiosmtpd.controller import Controller
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from tracker_runtime.logging import configure_logging
from tracker_runtime.serve import exit_with, port_problem
from tracker_runtime.settings import Port, ProcessSettings, load_settings, variable_name

logger = logging.getLogger("tracker.mail_catcher")


class CatcherSettings(ProcessSettings):
    model_config = SettingsConfigDict(env_prefix="MAIL_CATCHER_")

    host: Annotated[str, Field(description="Address to listen on.")] = "127.0.0.1"
    port: Port = 1025
    dir: Annotated[Path, Field(description="Where each caught mail is stored.")] = Path(".run/mail")


class MailCatcher:
    """Accepts every mail, writes it to ``directory`` (when given) and logs it.

    Subclasses may override ``handle_RCPT`` or ``handle_DATA`` (aiosmtpd's hooks) to refuse
    mail, and :meth:`received` to see each accepted mail.
    """

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content: bytes = envelope.original_content or envelope.content
        self.received(list(envelope.rcpt_tos), content, session)
        return "250 2.0.0 Message accepted for delivery"

    def received(self, recipients: list[str], content: bytes, session: Any) -> None:
        """Store and log one accepted mail."""
        message = BytesParser(policy=policy.default).parsebytes(content)
        path = None
        if self.directory is not None:
            path = self.directory / f"{datetime.now(UTC):%Y%m%d-%H%M%S-%f}.eml"
            path.write_bytes(content)
            path.with_suffix(".txt").write_text(readable(message))
        logger.info(
            "mail to %s: %s",
            ", ".join(recipients),
            message.get("Subject", ""),
            extra={"file": str(path)} if path else {},
        )


class MailSink:
    """A bare SMTP server's handler: accepts every mail and keeps nothing but the count.
    Benchmarks measure against it, so that their figures are the sender's, not those of a
    catcher that parses and stores each mail."""

    def __init__(self) -> None:
        self.accepted = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.accepted += len(envelope.rcpt_tos)
        return "250 2.0.0 Message accepted for delivery"


READABLE_HEADERS = ("From", "To", "Subject", "Date")


def readable(message: EmailMessage) -> str:
    """The mail as a person reads it: a few headers and the text part, decoded."""
    headers = "".join(f"{name}: {message[name]}\n" for name in READABLE_HEADERS if name in message)
    body = message.get_body(preferencelist=("plain",))
    text = body.get_content() if isinstance(body, EmailMessage) else "(no text part)\n"
    return f"{headers}\n{text}"


def main() -> None:
    settings = load_settings(CatcherSettings, process="mail catcher")
    configure_logging(settings.log_level, json_lines=settings.log_json)
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every command
    problem = port_problem(
        settings.host, settings.port, variable=variable_name(CatcherSettings, "port")
    )
    if problem is not None:
        exit_with("mail catcher", problem)
    directory = settings.dir.resolve()
    controller = Controller(MailCatcher(directory), hostname=settings.host, port=settings.port)
    stop = threading.Event()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signal_number, lambda *_: stop.set())
    controller.start()
    logger.info(
        "catching mail on %s:%d into %s (Ctrl-C stops)", settings.host, settings.port, directory
    )
    try:
        stop.wait()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
