"""Every kind of mail the notifier sends, one typed payload model each.

A kind's model is what its ``deliveries`` row stores as ``payload`` (JSON): everything the
mail says that the row does not hold already. The model knows its ``KIND`` (the row's
``kind``), its idempotency key, its subject and how it renders to text and HTML; the rest
(the recipient, links) comes from a :class:`RenderContext` when the mail is sent. Defining
a subclass of :class:`MailKind` registers it in :data:`MAIL_KINDS`, which the sender uses
to read a stored payload back (:func:`stored`).

Stored payloads outlive deploys: a change to a model must still validate the rows already
stored (add fields with defaults), and an idempotency key must never change shape.
"""

import uuid
from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from html import escape
from typing import Any, ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from tracker_notifier.mail.messages import PRODUCT, MailContent, html_page


@dataclass(frozen=True, slots=True)
class RenderContext:
    """What rendering needs besides the payload; the sender builds it per delivery."""

    to_address: str
    public_url: str
    unsubscribe_url: str
    """The recipient's signed one-click unsubscribe link (RFC 8058)."""


MAIL_KINDS: dict[str, type["MailKind"]] = {}
"""Every kind of mail by its ``KIND``."""


class MailKind(BaseModel):
    """The payload of one kind of mail. Subclasses that set ``KIND`` are registered."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    KIND: ClassVar[str]

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if "KIND" not in cls.__dict__:
            return  # a base of several kinds (``LinkMail``), not a kind itself
        if cls.KIND in MAIL_KINDS:
            raise TypeError(f"two mail kinds named {cls.KIND!r}")
        MAIL_KINDS[cls.KIND] = cls

    @abstractmethod
    def idempotency_key(self, user_id: uuid.UUID) -> str:
        """The key that makes this mail to this user go out at most once."""

    @abstractmethod
    def subject(self) -> str: ...

    @abstractmethod
    def render(self, context: RenderContext) -> MailContent:
        """Both parts of the mail; every user-supplied string escaped in the HTML."""

    def link_expiry(self) -> datetime | None:
        """When the mail's link stops working, for a mail that carries one: a mail still
        unsent then is not sent at all."""
        return None


class InvalidPayload(ValueError):
    """A stored payload no mail kind takes (any more)."""


def stored(kind: str, payload: dict[str, Any]) -> MailKind:
    """The model of a delivery's stored ``kind`` and ``payload``; raises
    :class:`InvalidPayload`."""
    model = MAIL_KINDS.get(kind)
    if model is None:
        raise InvalidPayload(f"no mail kind {kind!r}")
    try:
        return model.model_validate(payload)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(map(str, problem['loc'])) or 'payload'}: {problem['msg']}"
            for problem in error.errors(include_url=False)
        )
        raise InvalidPayload(f"the stored {kind!r} payload is invalid: {problems}") from error


# -- mails with a link: welcome, confirm the address, reset the password --------------------

VERIFY_EMAIL_FRAGMENT = "verify-email"
RESET_PASSWORD_FRAGMENT = "reset-password"
RESET_LINK_MINUTES = 30
"""How long a password reset link works (auth's rule; the mail says it)."""


def link(public_url: str, fragment: str, token: str) -> str:
    """A link into the web app carrying its token in the URL fragment, which browsers never
    send to a server, so the token stays out of every access log."""
    return f"{public_url.rstrip('/')}/#{fragment}={token}"


class LinkMail(MailKind):
    """A mail whose link carries a secret (``token``) that stops working at ``expires_at``.

    The token is stored only until the mail is sent or failed for good (the sender then
    removes it from the payload, so ``None`` is what a finished row reads back as); a mail
    still unsent when its link expired is not sent at all (:meth:`link_expiry`). Nothing
    logs a payload."""

    token: str | None = Field(default=None, repr=False)
    expires_at: AwareDatetime | None = None

    def link_expiry(self) -> datetime | None:
        return self.expires_at

    def _require_token(self) -> str:
        if self.token is None:
            raise ValueError(f"the {self.KIND!r} mail has no token to link to any more")
        return self.token


WELCOME_SUBJECT = f"Welcome to {PRODUCT}"


class Welcome(LinkMail):
    """The mail a person gets once, after registering, with the link that confirms the
    address. (Welcomes stored before addresses were confirmed have no token, and say
    only welcome.)"""

    KIND = "welcome"

    def idempotency_key(self, user_id: uuid.UUID) -> str:
        return f"welcome:{user_id}"

    def subject(self) -> str:
        return WELCOME_SUBJECT

    def render(self, context: RenderContext) -> MailContent:
        email, public_url = context.to_address, context.public_url
        confirm_text = confirm_html = ""
        if self.token is not None:
            url = link(public_url, VERIFY_EMAIL_FRAGMENT, self.token)
            confirm_text = (
                "Please confirm that this address is yours by opening this link:\n"
                f"{url}\n\n"
                "Until you do, this is the only mail we send you.\n\n"
            )
            confirm_html = (
                "<p>Please confirm that this address is yours: "
                f'<a href="{escape(url)}">confirm my address</a>. '
                "Until you do, this is the only mail we send you.</p>\n"
            )
        text = (
            f"Hello {email},\n\n"
            f"welcome to {PRODUCT}! Your account is ready: keep your tasks at\n"
            f"{public_url}\n\n"
            f"{confirm_text}"
            "Every night, at your own midnight, we send you one digest: what you finished\n"
            "that day and what is still open.\n\n"
            f"-- {PRODUCT}\n"
        )
        html = html_page(
            self.subject(),
            f"<p>Hello {escape(email)},</p>\n"
            f"<p>welcome to {PRODUCT}! Your account is ready: keep your tasks at "
            f'<a href="{escape(public_url)}">{escape(public_url)}</a>.</p>\n'
            f"{confirm_html}"
            "<p>Every night, at your own midnight, we send you one digest: what you finished "
            "that day and what is still open.</p>\n"
            f"<p>&mdash; {PRODUCT}</p>",
        )
        return MailContent(subject=self.subject(), text=text, html=html)


class ConfirmAddress(LinkMail):
    """A new link that confirms the address, which the person asked for."""

    KIND = "confirm-address"

    expires_at: AwareDatetime

    def idempotency_key(self, user_id: uuid.UUID) -> str:
        # One mail per link asked for; the link's expiry tells the requests apart (the
        # key never holds the secret itself).
        return f"confirm-address:{user_id}:{self.expires_at.isoformat()}"

    def subject(self) -> str:
        return f"Confirm your address for {PRODUCT}"

    def render(self, context: RenderContext) -> MailContent:
        url = link(context.public_url, VERIFY_EMAIL_FRAGMENT, self._require_token())
        email = context.to_address
        text = (
            f"Hello {email},\n\n"
            f"please confirm that this address is yours by opening this link:\n{url}\n\n"
            "If you did not ask for it, ignore this mail.\n\n"
            f"-- {PRODUCT}\n"
        )
        html = html_page(
            self.subject(),
            f"<p>Hello {escape(email)},</p>\n"
            "<p>please confirm that this address is yours: "
            f'<a href="{escape(url)}">confirm my address</a>.</p>\n'
            "<p>If you did not ask for it, ignore this mail.</p>\n"
            f"<p>&mdash; {PRODUCT}</p>",
        )
        return MailContent(subject=self.subject(), text=text, html=html)


class PasswordReset(LinkMail):
    """The link to choose a new password, which the person (or someone who knows their
    address) asked for."""

    KIND = "password-reset"

    expires_at: AwareDatetime

    def idempotency_key(self, user_id: uuid.UUID) -> str:
        return f"password-reset:{user_id}:{self.expires_at.isoformat()}"

    def subject(self) -> str:
        return f"Reset your {PRODUCT} password"

    def render(self, context: RenderContext) -> MailContent:
        url = link(context.public_url, RESET_PASSWORD_FRAGMENT, self._require_token())
        email = context.to_address
        lifetime = f"{RESET_LINK_MINUTES} minutes"
        text = (
            f"Hello {email},\n\n"
            "someone asked to reset the password of your account. To choose a new one,\n"
            f"open this link within {lifetime}:\n{url}\n\n"
            "The link works once. If you did not ask for it, ignore this mail: your\n"
            "password stays as it is.\n\n"
            f"-- {PRODUCT}\n"
        )
        html = html_page(
            self.subject(),
            f"<p>Hello {escape(email)},</p>\n"
            "<p>someone asked to reset the password of your account. To choose a new one, "
            f'open <a href="{escape(url)}">this link</a> within {lifetime}.</p>\n'
            "<p>The link works once. If you did not ask for it, ignore this mail: your "
            "password stays as it is.</p>\n"
            f"<p>&mdash; {PRODUCT}</p>",
        )
        return MailContent(subject=self.subject(), text=text, html=html)


# -- the nightly digest -------------------------------------------------------------------

OPEN_TITLES_SHOWN = 5
COMPLETED_TITLES_SHOWN = 10
DUE_TITLES_SHOWN = 5


class Digest(MailKind):
    """The nightly digest of one local day: the tasks completed that day, the open ones
    due on or before it (overdue) and due the day that starts, and the tasks still open
    (counts, and the first titles of each)."""

    KIND = "digest"

    day: date
    timezone: str
    """The recipient's IANA zone, whose midnight ended ``day``."""
    completed_count: int
    completed_titles: tuple[str, ...]
    open_count: int
    open_titles: tuple[str, ...]
    overdue_count: int = 0
    overdue_titles: tuple[str, ...] = ()
    due_today_count: int = 0
    due_today_titles: tuple[str, ...] = ()

    @property
    def has_news(self) -> bool:
        """Whether there is anything to say; a person with nothing gets no mail."""
        counts = (self.completed_count, self.open_count, self.overdue_count, self.due_today_count)
        return any(counts)

    def idempotency_key(self, user_id: uuid.UUID) -> str:
        return f"digest:{user_id}:{self.day.isoformat()}"

    def subject(self) -> str:
        overdue = f", {self.overdue_count} overdue" if self.overdue_count else ""
        return (
            f"Your day in {PRODUCT}: {self.completed_count} completed, "
            f"{self.open_count} open{overdue}"
        )

    def render(self, context: RenderContext) -> MailContent:
        """ "You completed N tasks today" with their titles (capped, "and K more"), "N tasks
        overdue", "N tasks due today" and "You have N unfinished tasks" with up to five
        titles each; a part is left out when its count is zero. Carries one-click
        unsubscribe headers (RFC 8058)."""
        public_url, unsubscribe_url = context.public_url, context.unsubscribe_url
        day = f"{self.day:%A}, {self.day.day} {self.day:%B %Y}"
        subject = self.subject()
        text_parts = [f"Hello,\n\nhere is your {day} in {PRODUCT}.\n"]
        html_parts = [f"<p>Hello,</p>\n<p>here is your {escape(day)} in {PRODUCT}.</p>"]
        if self.completed_count:
            titles, more = _shown(
                self.completed_titles, self.completed_count, COMPLETED_TITLES_SHOWN
            )
            heading = f"You completed {_tasks(self.completed_count)} today"
            text_parts.append(f"{heading}:\n{_text_list(titles, more)}")
            html_parts.append(f"<h2>{heading}</h2>\n{_html_list(titles, more)}")
        for count, listed, when in (
            (self.overdue_count, self.overdue_titles, "overdue"),
            (self.due_today_count, self.due_today_titles, "due today"),
        ):
            if count:
                titles, more = _shown(listed, count, DUE_TITLES_SHOWN)
                heading = f"{_tasks(count)} {when}"
                text_parts.append(f"{heading}:\n{_text_list(titles, more)}")
                html_parts.append(f"<h2>{heading}</h2>\n{_html_list(titles, more)}")
        if self.open_count:
            titles, more = _shown(self.open_titles, self.open_count, OPEN_TITLES_SHOWN)
            heading = f"You have {_unfinished(self.open_count)}"
            text_parts.append(f"{heading}:\n{_text_list(titles, more)}")
            html_parts.append(f"<h2>{heading}</h2>\n{_html_list(titles, more)}")
        text_parts.append(
            f"Open your tasks: {public_url}\n\n"
            f"You get this mail every night at midnight ({self.timezone}). To stop it, open\n"
            f"{unsubscribe_url}\n\n-- {PRODUCT}\n"
        )
        html_parts.append(
            f'<p><a href="{escape(public_url)}">Open your tasks</a></p>\n'
            f"<p><small>You get this mail every night at midnight ({escape(self.timezone)}). "
            f'<a href="{escape(unsubscribe_url)}">Unsubscribe</a></small></p>'
        )
        return MailContent(
            subject=subject,
            text="\n".join(text_parts),
            html=html_page(subject, "\n".join(html_parts)),
            headers=(
                ("List-Unsubscribe", f"<{unsubscribe_url}>"),
                ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
            ),
        )


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
