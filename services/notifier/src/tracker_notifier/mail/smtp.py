"""Sending mail with smtplib over connections kept open (``NOTIFIER_SMTP_CONNECTIONS`` per
worker process, one :class:`Mailer` each).

A connection is opened on first use and kept open across mails (DESIGN.md section 9);
before a mail on a connection idle for more than a moment, a ``NOOP`` checks that the server
still holds it, and a connection the server dropped is opened again. Errors come out as two kinds:

- :class:`TransientMailError`: worth retrying later (connection failures, timeouts, SMTP
  4xx replies, and authentication or TLS failures, which are configuration to fix rather
  than a fault of the message);
- :class:`PermanentMailError`: the server refused this message for good (SMTP 5xx), or
  it cannot take it at all (an address with a non-ASCII local part needs SMTPUTF8, RFC
  6531, and the server does not offer it).

Any other error leaves the connection in an unknown state: it is closed and the error
passed on.
"""

import logging
import os
import smtplib
import ssl
import time
from dataclasses import dataclass
from email.message import Message
from email.policy import SMTPUTF8
from email.utils import getaddresses

from tracker_notifier.config import Settings, SmtpSecurity

logger = logging.getLogger("tracker.notifier.smtp")

UTF8_POLICY = SMTPUTF8.clone(max_line_length=998)
"""Headers of a mail sent with SMTPUTF8 carry UTF-8 as is (RFC 6532)."""

TRUSTED_IDLE_S = 2.0
"""A connection used this recently is used again without a ``NOOP`` first (one round trip
less per mail in a batch); servers drop idle connections after minutes, not seconds."""


class MailError(Exception):
    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class TransientMailError(MailError):
    """Sending failed for a reason that may go away: try again later."""


class PermanentMailError(MailError):
    """The server refused the message for good: trying again cannot help."""


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str
    port: int
    security: SmtpSecurity = SmtpSecurity.NONE
    username: str | None = None
    password: str | None = None
    timeout: float = 30.0

    @classmethod
    def from_settings(cls, settings: Settings) -> "SmtpConfig":
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            security=settings.smtp_security,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            timeout=settings.smtp_timeout,
        )


def _reply(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {text}"


class Mailer:
    """One reusable SMTP connection. Not thread-safe: one thread at a time uses it."""

    def __init__(self, config: SmtpConfig) -> None:
        self._config = config
        self._smtp: smtplib.SMTP | None = None
        self._owner_pid = os.getpid()
        self._last_used = 0.0
        self._unchecked = False
        """Whether the current connection was reused without a ``NOOP``."""
        self.connections_opened = 0

    def send(self, message: Message) -> None:
        """Hand ``message`` to the server; returns once the server accepted it (250 after
        DATA). Raises :class:`TransientMailError` or :class:`PermanentMailError`."""
        try:
            self._send(message)
        except TransientMailError as error:
            if not (
                self._unchecked and isinstance(error.__cause__, smtplib.SMTPServerDisconnected)
            ):
                raise
            # The server closed a connection we reused unchecked; no reply 250 was read, so
            # it did not take the message. Once more, on a new connection.
            logger.info("SMTP connection closed by the server; opening a new one")
            self._unchecked = False
            self._send(message)

    def _send(self, message: Message) -> None:
        smtp = self._connection()
        international = not str(message["To"] or "").isascii()
        if international and not smtp.has_extn("smtputf8"):
            raise PermanentMailError(
                "the address has a non-ASCII local part and the server does not offer SMTPUTF8"
            )
        try:
            refused = _send_utf8(smtp, message) if international else smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as error:
            # smtplib reset the transaction; the connection stays usable.
            raise _refused(error.recipients) from error
        except smtplib.SMTPResponseException as error:
            if error.smtp_code == 421 or isinstance(error, smtplib.SMTPAuthenticationError):
                self._discard()
            kind = (
                PermanentMailError
                if error.smtp_code >= 500
                and not isinstance(error, (smtplib.SMTPAuthenticationError, smtplib.SMTPHeloError))
                else TransientMailError
            )
            raise kind(_reply(error.smtp_code, error.smtp_error), code=error.smtp_code) from error
        except (smtplib.SMTPException, OSError) as error:
            # Disconnected or timed out mid-transaction: the connection's state is unknown.
            self._discard()
            raise TransientMailError(f"{type(error).__name__}: {error}") from error
        except Exception:
            self._discard()
            raise
        if refused:  # only possible with several recipients, some accepted
            raise _refused(refused)

    def close(self) -> None:
        """Say QUIT and close the connection, if one is open."""
        smtp, self._smtp = self._smtp, None
        if smtp is None or self._owner_pid != os.getpid():
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()

    def _connection(self) -> smtplib.SMTP:
        self._unchecked = False
        if self._owner_pid != os.getpid():
            # Inherited across fork: the socket belongs to the parent; never touch it.
            self._smtp, self._owner_pid = None, os.getpid()
        if self._smtp is not None:
            self._unchecked = time.monotonic() - self._last_used < TRUSTED_IDLE_S
            if self._unchecked:
                self._last_used = time.monotonic()
                return self._smtp
            try:
                code, _ = self._smtp.noop()
            except (smtplib.SMTPException, OSError):
                code = -1
            if code == 250:
                self._last_used = time.monotonic()
                return self._smtp
            logger.info("SMTP connection lost; opening a new one")
            self._discard()
        try:
            self._smtp = self._open()
            self._last_used = time.monotonic()
        except smtplib.SMTPResponseException as error:
            raise TransientMailError(
                f"cannot open an SMTP session: {_reply(error.smtp_code, error.smtp_error)}",
                code=error.smtp_code,
            ) from error
        except (smtplib.SMTPException, OSError) as error:
            raise TransientMailError(
                f"cannot connect to {self._config.host}:{self._config.port}: "
                f"{type(error).__name__}: {error}"
            ) from error
        return self._smtp

    def _open(self) -> smtplib.SMTP:
        config = self._config
        smtp: smtplib.SMTP
        if config.security is SmtpSecurity.TLS:
            smtp = smtplib.SMTP_SSL(
                config.host,
                config.port,
                timeout=config.timeout,
                context=ssl.create_default_context(),
            )
        else:
            smtp = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
        try:
            smtp.ehlo()
            if config.security is SmtpSecurity.STARTTLS:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if config.username:
                smtp.login(config.username, config.password or "")
        except BaseException:
            smtp.close()
            raise
        self.connections_opened += 1
        logger.info(
            "SMTP connection opened",
            extra={"smtp_host": config.host, "smtp_port": config.port},
        )
        return smtp

    def _discard(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            smtp.close()


def _send_utf8(smtp: smtplib.SMTP, message: Message) -> dict[str, tuple[int, bytes]]:
    """Send with SMTPUTF8 (RFC 6531): ``send_message`` cannot, because it needs the
    message's policy to be an ``EmailPolicy`` and ours are built with ``compat32``."""
    [(_, sender)] = getaddresses([str(message["From"])])
    recipients = [address for _, address in getaddresses([str(message["To"])])]
    data = message.as_bytes(policy=UTF8_POLICY)  # CRLF line ends, as SMTP wants them
    options = ["SMTPUTF8", "BODY=8BITMIME"] if smtp.has_extn("8bitmime") else ["SMTPUTF8"]
    return smtp.sendmail(sender, recipients, data, mail_options=options)


def _refused(recipients: dict[str, tuple[int, bytes]]) -> MailError:
    codes = [code for code, _ in recipients.values()]
    detail = "; ".join(f"{address}: {_reply(*reply)}" for address, reply in recipients.items())
    if any(code >= 500 for code in codes):
        return PermanentMailError(f"recipient refused: {detail}", code=max(codes))
    return TransientMailError(f"recipient deferred: {detail}", code=max(codes))
