"""Building mail: the content of each kind of mail, and the MIME message around it.

Building is kept apart from sending (``tracker_notifier.mail.smtp``) so that every kind of
mail, the digest included, goes through the same two steps. Every user-supplied string is
escaped in the HTML part.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.header import Header
from email.headerregistry import Address
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import format_datetime, formataddr, make_msgid
from html import escape

PRODUCT = "task-tracker"
WELCOME_SUBJECT = f"Welcome to {PRODUCT}"


OPEN_TITLES_SHOWN = 5
COMPLETED_TITLES_SHOWN = 10


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


HEADER_POLICY = compat32.clone(max_line_length=998)
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
    message = MIMEMultipart("alternative", policy=HEADER_POLICY)
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


def _header(value: str) -> str:
    return value if value.isascii() else Header(value, "utf-8").encode()


def _html_page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title></head>\n"
        f'<body style="font-family: sans-serif; line-height: 1.5">\n{body}\n</body></html>\n'
    )


def welcome(*, email: str, public_url: str) -> MailContent:
    """The mail a person gets once, after registering."""
    text = (
        f"Hello {email},\n\n"
        f"welcome to {PRODUCT}! Your account is ready: keep your tasks at\n"
        f"{public_url}\n\n"
        "Every night, at your own midnight, we send you one digest: what you finished\n"
        "that day and what is still open.\n\n"
        f"-- {PRODUCT}\n"
    )
    html = _html_page(
        WELCOME_SUBJECT,
        f"<p>Hello {escape(email)},</p>\n"
        f"<p>welcome to {PRODUCT}! Your account is ready: keep your tasks at "
        f'<a href="{escape(public_url)}">{escape(public_url)}</a>.</p>\n'
        "<p>Every night, at your own midnight, we send you one digest: what you finished "
        "that day and what is still open.</p>\n"
        f"<p>&mdash; {PRODUCT}</p>",
    )
    return MailContent(subject=WELCOME_SUBJECT, text=text, html=html)


@dataclass(frozen=True, slots=True)
class DigestSummary:
    """What one digest says: the day's completed tasks and the tasks still open."""

    day: date
    completed_count: int
    completed_titles: Sequence[str]
    open_count: int
    open_titles: Sequence[str]

    @property
    def has_news(self) -> bool:
        """Whether there is anything to say; a person with neither gets no mail."""
        return self.completed_count > 0 or self.open_count > 0


def _tasks(count: int) -> str:
    return f"{count} task" if count == 1 else f"{count} tasks"


def _unfinished(count: int) -> str:
    return f"{count} unfinished task" if count == 1 else f"{count} unfinished tasks"


def _shown(titles: Sequence[str], count: int, limit: int) -> tuple[list[str], int]:
    """The titles to list and how many more there are."""
    shown = list(titles[:limit])
    return shown, max(0, count - len(shown))


def _text_list(titles: list[str], more: int) -> str:
    lines = [f"  - {title}" for title in titles]
    if more:
        lines.append(f"  ... and {more} more")
    return "\n".join(lines) + "\n"


def _html_list(titles: list[str], more: int) -> str:
    items = "".join(f"<li>{escape(title)}</li>" for title in titles)
    if more:
        items += f"<li><em>and {more} more</em></li>"
    return f"<ul>{items}</ul>"


def digest_subject(summary: DigestSummary) -> str:
    return f"Your day in {PRODUCT}: {summary.completed_count} completed, {summary.open_count} open"


def digest(
    summary: DigestSummary, *, timezone: str, public_url: str, unsubscribe_url: str
) -> MailContent:
    """The nightly digest: "You completed N tasks today" with their titles (capped, "and K
    more") and "You have N unfinished tasks" with up to five titles; a part is left out
    when its count is zero. Carries one-click unsubscribe headers (RFC 8058)."""
    day = f"{summary.day:%A}, {summary.day.day} {summary.day:%B %Y}"
    subject = digest_subject(summary)
    text_parts = [f"Hello,\n\nhere is your {day} in {PRODUCT}.\n"]
    html_parts = [f"<p>Hello,</p>\n<p>here is your {escape(day)} in {PRODUCT}.</p>"]
    if summary.completed_count:
        titles, more = _shown(
            summary.completed_titles, summary.completed_count, COMPLETED_TITLES_SHOWN
        )
        heading = f"You completed {_tasks(summary.completed_count)} today"
        text_parts.append(f"{heading}:\n{_text_list(titles, more)}")
        html_parts.append(f"<h2>{heading}</h2>\n{_html_list(titles, more)}")
    if summary.open_count:
        titles, more = _shown(summary.open_titles, summary.open_count, OPEN_TITLES_SHOWN)
        heading = f"You have {_unfinished(summary.open_count)}"
        text_parts.append(f"{heading}:\n{_text_list(titles, more)}")
        html_parts.append(f"<h2>{heading}</h2>\n{_html_list(titles, more)}")
    text_parts.append(
        f"Open your tasks: {public_url}\n\n"
        f"You get this mail every night at midnight ({timezone}). To stop it, open\n"
        f"{unsubscribe_url}\n\n-- {PRODUCT}\n"
    )
    html_parts.append(
        f'<p><a href="{escape(public_url)}">Open your tasks</a></p>\n'
        f"<p><small>You get this mail every night at midnight ({escape(timezone)}). "
        f'<a href="{escape(unsubscribe_url)}">Unsubscribe</a></small></p>'
    )
    return MailContent(
        subject=subject,
        text="\n".join(text_parts),
        html=_html_page(subject, "\n".join(html_parts)),
        headers=(
            ("List-Unsubscribe", f"<{unsubscribe_url}>"),
            ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        ),
    )
