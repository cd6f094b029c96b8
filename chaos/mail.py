"""The SMTP server of a chaos run: the development mail catcher, keeping every mail it
accepted (with when and over which connection), able to answer 4xx for a while, and to
hold a sender in the middle of a batch so that the scenario can kill it there."""

import asyncio
import re
import threading
import time
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

from scripts.mail_catcher import MailCatcher
from tracker_notifier.mail.kinds import WELCOME_SUBJECT

VERIFY_LINK = re.compile(r"#verify-email=([A-Za-z0-9_-]+)")
TASK_LINK = re.compile(r"#task=([0-9a-f-]{36})")
HOLD_LIMIT_S = 30.0
"""A held sender is let go after this even if nobody released it."""


@dataclass(frozen=True)
class CaughtMail:
    to: str
    kind: str
    """``welcome``, ``digest``, ``reminder`` or ``other``, from the subject."""
    message_id: str
    accepted_at: float
    """``time.time()`` when the server accepted it."""
    peer_port: int
    """The client's port: one value per SMTP connection."""
    text: str

    def link(self, pattern: re.Pattern[str]) -> str | None:
        found = pattern.search(self.text)
        return found.group(1) if found else None


def kind_of(subject: str) -> str:
    if subject == WELCOME_SUBJECT:
        return "welcome"
    if subject.startswith("Reminder: "):
        return "reminder"
    if subject.startswith("Your day in "):
        return "digest"
    return "other"


class ChaosMailCatcher(MailCatcher):
    """Accepts mail (the aiosmtpd hooks run in the server's thread) and keeps it in
    :attr:`mails`; :meth:`defer_for` makes it answer 451 to every message for a while;
    :meth:`hold_a_batch` holds the next ``MAIL`` command of a connection that has just
    delivered digests, between two mails of a send batch."""

    def __init__(self) -> None:
        super().__init__(None)
        self.lock = threading.Lock()
        self.mails: list[CaughtMail] = []
        self.deferred = 0
        self._deferring_until = 0.0
        self._digests_by_peer: dict[int, int] = {}
        self._hold_after: int | None = None
        self.held_peer: int | None = None
        self.holding = threading.Event()
        self.released = threading.Event()

    def defer_for(self, seconds: float) -> None:
        with self.lock:
            self._deferring_until = time.monotonic() + seconds

    def hold_a_batch(self, after_digests: int) -> None:
        """Hold the ``MAIL`` command of the next connection that has delivered at least
        ``after_digests`` digests: its sender is then between two mails of a batch, past the
        commit of the one before (see :attr:`holding`, :meth:`release`)."""
        with self.lock:
            self._digests_by_peer.clear()
            self._hold_after = after_digests
            self.held_peer = None
        self.holding.clear()
        self.released.clear()

    def release(self) -> None:
        with self.lock:
            self._hold_after = None
        self.released.set()

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, mail_options: list[str]
    ) -> str:
        peer = int(session.peer[1])
        with self.lock:
            hold = (
                self._hold_after is not None
                and self.held_peer is None
                and self._digests_by_peer.get(peer, 0) >= self._hold_after
            )
            if hold:
                self.held_peer = peer
        if hold:
            self.holding.set()
            await asyncio.to_thread(self.released.wait, HOLD_LIMIT_S)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            deferring = time.monotonic() < self._deferring_until
            if deferring:
                self.deferred += 1
        if deferring:
            return "451 4.3.0 Try again later"
        return await super().handle_DATA(server, session, envelope)

    def received(self, recipients: list[str], content: bytes, session: Any) -> None:
        accepted_at = time.time()
        message = BytesParser(policy=policy.default).parsebytes(content)
        assert isinstance(message, EmailMessage)
        body = message.get_body(preferencelist=("plain",))
        text = body.get_content() if isinstance(body, EmailMessage) else ""
        kind = kind_of(str(message.get("Subject", "")))
        peer = int(session.peer[1])
        with self.lock:
            for recipient in recipients:
                self.mails.append(
                    CaughtMail(
                        to=recipient.lower(),
                        kind=kind,
                        message_id=str(message.get("Message-ID", "")),
                        accepted_at=accepted_at,
                        peer_port=peer,
                        text=text,
                    )
                )
            if kind == "digest":
                self._digests_by_peer[peer] = self._digests_by_peer.get(peer, 0) + 1

    def snapshot(self) -> list[CaughtMail]:
        with self.lock:
            return list(self.mails)

    def verification_token(self, address: str) -> str | None:
        """The token of the newest confirmation link mailed to ``address``."""
        address = address.lower()
        with self.lock:
            for mail in reversed(self.mails):
                if mail.to == address and (token := mail.link(VERIFY_LINK)):
                    return token
        return None
