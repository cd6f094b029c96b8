"""Building mail: the content of each kind of mail, and the MIME message around it.

Building is kept apart from sending (``tracker_notifier.mail.smtp``) so that every kind of
mail, the digest included, goes through the same two steps. Every user-supplied string is
escaped in the HTML part.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from html import escape

PRODUCT = "task-tracker"
WELCOME_SUBJECT = f"Welcome to {PRODUCT}"


@dataclass(frozen=True, slots=True)
class MailContent:
    subject: str
    text: str
    html: str


def new_message_id(sender: Address) -> str:
    """A globally unique Message-ID in the sender's domain."""
    return make_msgid(domain=sender.domain or None)


def compose(
    content: MailContent,
    *,
    sender: Address,
    to: str,
    message_id: str,
    date: datetime | None = None,
) -> EmailMessage:
    """A ``multipart/alternative`` message (plain text first, then HTML)."""
    message = EmailMessage()
    message["Subject"] = content.subject
    message["From"] = sender
    message["To"] = to
    message["Date"] = format_datetime(date or datetime.now(UTC))
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(content.text)
    message.add_alternative(content.html, subtype="html")
    return message


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
