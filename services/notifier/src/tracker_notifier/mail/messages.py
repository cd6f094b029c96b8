"""Building mail: the MIME message around the content of any kind of mail.

Each kind's content lives with its payload model in ``tracker_notifier.mail.kinds``.
Building is kept apart from sending (``tracker_notifier.mail.smtp``) so that every kind of
mail, the digest included, goes through the same two steps.
"""

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from email.header import Header
from email.headerregistry import Address
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import Compat32
from email.utils import format_datetime, formataddr, make_msgid
from html import escape

PRODUCT = "task-tracker"


@dataclass(frozen=True, slots=True)
class MailContent:
    subject: str
    text: str
    html: str
    headers: tuple[tuple[str, str], ...] = ()
    """Extra header fields, e.g. ``List-Unsubscribe``."""


class UnencodableAddress(ValueError):
    """An address no mail server can be given."""


def mail_address(address: str) -> str:
    """``address`` as mail carries it: an internationalised domain in its ASCII (IDNA,
    ``xn--``) form, which every server takes; the local part as given (a non-ASCII one
    needs a server that offers SMTPUTF8, see ``tracker_notifier.mail.smtp``).

    The standard library's IDNA 2003 codec maps a few letters (``ß``, ``ς``) to others,
    which would name another domain: such an address is refused rather than sent astray.
    Raises :class:`UnencodableAddress`.
    """
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        raise UnencodableAddress(f"not an address: {address!r}")
    if domain.isascii():
        return address
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
        same = ascii_domain.encode("ascii").decode("idna") == domain.lower()
    except UnicodeError as error:
        raise UnencodableAddress(f"{address!r} has no ASCII form: {error}") from error
    if not same:
        raise UnencodableAddress(f"{address!r} has no unambiguous ASCII form")
    return f"{local}@{ascii_domain}"


def new_message_id(sender: Address) -> str:
    """A globally unique Message-ID in the sender's domain."""
    return make_msgid(domain=sender.domain or None)


class _HeaderPolicy(Compat32):
    """``compat32`` that writes a header fitting on one line as it is, without running it
    through ``email.header.Header``, which would return it unchanged after most of the
    time it takes to send a mail (measured in a digest run). Any other header (too long,
    already folded, not ASCII) is folded by ``compat32`` itself."""

    def _fits(self, name: str, value: object) -> bool:
        limit = self.max_line_length or 0
        return (
            isinstance(value, str)
            and value.isascii()
            and "\n" not in value
            and "\r" not in value
            and len(name) + len(value) + 2 < limit
        )

    def fold(self, name: str, value: str) -> str:
        if self._fits(name, value):
            return f"{name}: {value}{self.linesep}"
        return super().fold(name, value)

    def fold_binary(self, name: str, value: str) -> bytes:
        if self._fits(name, value):
            return f"{name}: {value}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)


HEADER_POLICY = _HeaderPolicy(max_line_length=998)
"""Headers are not folded below RFC 5322's line limit: a folded ``List-Unsubscribe`` URL
reaches some clients with a leading space."""


def compose(
    content: MailContent,
    *,
    sender: Address,
    to: str,
    message_id: str,
    date: datetime | None = None,
) -> Message:
    """A ``multipart/alternative`` message (plain text first, then HTML), UTF-8 throughout,
    to :func:`mail_address` of ``to`` (raises :class:`UnencodableAddress`).

    Built with the ``compat32`` MIME classes, which take header values as given: several
    times faster than ``EmailMessage``'s parsing header registry, which matters when a
    digest night sends a mail per user. Non-ASCII names and subjects are encoded here.
    """
    message = MIMEMultipart("alternative", boundary=_boundary(), policy=HEADER_POLICY)
    message["Subject"] = _header(content.subject)
    message["From"] = formataddr((sender.display_name, sender.addr_spec), charset="utf-8")
    message["To"] = mail_address(to)
    message["Date"] = format_datetime(date or datetime.now(UTC))
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"
    for name, value in content.headers:
        message[name] = value
    message.attach(MIMEText(content.text, "plain", "utf-8"))
    message.attach(MIMEText(content.html, "html", "utf-8"))
    return message


def _boundary() -> str:
    """A MIME boundary no line of the parts can equal: both parts are base64 (UTF-8 text
    always is, in ``email``), whose alphabet has neither ``_`` nor ``.``. Given here, it
    spares the generator its own search for one, which compiles a new regular expression
    for every mail."""
    return f"=_tracker.{secrets.token_hex(16)}"


def _header(value: str) -> str:
    return value if value.isascii() else Header(value, "utf-8").encode()


def html_page(title: str, body: str) -> str:
    """An HTML part: ``body`` (escaped by the caller) in a page titled ``title``."""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title></head>\n"
        f'<body style="font-family: sans-serif; line-height: 1.5">\n{body}\n</body></html>\n'
    )
