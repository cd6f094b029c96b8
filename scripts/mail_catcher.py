"""The development mail catcher: an SMTP server that keeps every mail as a file.

Usage: ``python scripts/mail_catcher.py`` (``make dev`` runs it). It listens on
``127.0.0.1:1025`` (``MAIL_CATCHER_HOST``, ``MAIL_CATCHER_PORT``), stores each message as an
``.eml`` file under ``.run/mail/`` (``MAIL_CATCHER_DIR``) and logs its recipients and
subject, until Ctrl-C. Open the files with any mail client to see the mail as sent.

:class:`MailCatcher` is an aiosmtpd handler; tests reuse it for a real SMTP server.
"""

import logging
import os
import signal
import threading
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from tracker_runtime.logging import configure_logging

ROOT = Path(__file__).resolve().parents[1]
logger = logging.getLogger("tracker.mail_catcher")


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
        message = BytesParser(policy=policy.default).parsebytes(content, headersonly=True)
        path = None
        if self.directory is not None:
            path = self.directory / f"{datetime.now(UTC):%Y%m%d-%H%M%S-%f}.eml"
            path.write_bytes(content)
        logger.info(
            "mail to %s: %s",
            ", ".join(recipients),
            message.get("Subject", ""),
            extra={"file": str(path)} if path else {},
        )


def main() -> None:
    configure_logging(os.environ.get("LOG_LEVEL", "INFO"))
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every command
    host = os.environ.get("MAIL_CATCHER_HOST", "127.0.0.1")
    port = int(os.environ.get("MAIL_CATCHER_PORT", "1025"))
    directory = Path(os.environ.get("MAIL_CATCHER_DIR", ROOT / ".run" / "mail"))
    controller = Controller(MailCatcher(directory), hostname=host, port=port)
    stop = threading.Event()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signal_number, lambda *_: stop.set())
    controller.start()
    logger.info("catching mail on %s:%d into %s (Ctrl-C stops)", host, port, directory)
    try:
        stop.wait()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
