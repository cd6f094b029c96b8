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
from datetime import date
from html import escape
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError

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
    """The payload of one kind of mail. Subclasses set ``KIND`` and are registered."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    KIND: ClassVar[str]

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
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


# -- welcome ------------------------------------------------------------------------------

WELCOME_SUBJECT = f"Welcome to {PRODUCT}"


class Welcome(MailKind):
    """The mail a person gets once, after registering."""

    KIND = "welcome"

    def idempotency_key(self, user_id: uuid.UUID) -> str:
        return f"welcome:{user_id}"

    def subject(self) -> str:
        return WELCOME_SUBJECT

    def render(self, context: RenderContext) -> MailContent:
        email, public_url = context.to_address, context.public_url
        text = (
            f"Hello {email},\n\n"
            f"welcome to {PRODUCT}! Your account is ready: keep your tasks at\n"
            f"{public_url}\n\n"
            "Every night, at your own midnight, we send you one digest: what you finished\n"
            "that day and what is still open.\n\n"
            f"-- {PRODUCT}\n"
        )
        html = html_page(
            self.subject(),
            f"<p>Hello {escape(email)},</p>\n"
            f"<p>welcome to {PRODUCT}! Your account is ready: keep your tasks at "
            f'<a href="{escape(public_url)}">{escape(public_url)}</a>.</p>\n'
            "<p>Every night, at your own midnight, we send you one digest: what you finished "
            "that day and what is still open.</p>\n"
            f"<p>&mdash; {PRODUCT}</p>",
        )
        return MailContent(subject=self.subject(), text=text, html=html)


# -- the nightly digest -------------------------------------------------------------------

OPEN_TITLES_SHOWN = 5
COMPLETED_TITLES_SHOWN = 10


class Digest(MailKind):
    """The nightly digest of one local day: the tasks completed that day and the tasks
    still open (counts, and the first titles of each)."""

    KIND = "digest"

    day: date
    timezone: str
    """The recipient's IANA zone, whose midnight ended ``day``."""
    completed_count: int
    completed_titles: tuple[str, ...]
    open_count: int
    open_titles: tuple[str, ...]

    @property
    def has_news(self) -> bool:
        """Whether there is anything to say; a person with neither gets no mail."""
        return self.completed_count > 0 or self.open_count > 0

    def idempotency_key(self, user_id: uuid.UUID) -> str:
        return f"digest:{user_id}:{self.day.isoformat()}"

    def subject(self) -> str:
        return f"Your day in {PRODUCT}: {self.completed_count} completed, {self.open_count} open"

    def render(self, context: RenderContext) -> MailContent:
        """ "You completed N tasks today" with their titles (capped, "and K more") and "You
        have N unfinished tasks" with up to five titles; a part is left out when its count
        is zero. Carries one-click unsubscribe headers (RFC 8058)."""
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
