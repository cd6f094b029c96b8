"""The mail kinds: every kind in the registry has an example here, keeps its idempotency
key, reads back the payloads stored before it changed, and refuses anything else."""

import json
import uuid
from datetime import UTC, date, datetime
from email import message_from_bytes, policy
from email.headerregistry import Address
from email.message import EmailMessage
from html import escape

import pytest
from pydantic import ValidationError

from tracker_notifier.mail import kinds, messages
from tracker_notifier.mail.kinds import (
    MAIL_KINDS,
    ConfirmAddress,
    Digest,
    MailKind,
    PasswordReset,
    Reminder,
    RenderContext,
    Welcome,
)

SENDER = Address("task-tracker", addr_spec="no-reply@tracker.example.org")
HOSTILE = "<b>o'brien&co</b>"
"""A user string that must come out escaped in every HTML part."""

DIGEST = Digest(
    day=date(2026, 3, 29),
    timezone="Europe/Berlin",
    completed_count=1,
    completed_titles=(HOSTILE,),
    open_count=2,
    open_titles=("Write report", "Call Bob"),
)
TOKEN = "k9Vt3_secret-token-0123456789abcdef"
LINK_EXPIRES = datetime(2099, 1, 1, 12, 30, tzinfo=UTC)
WELCOME = Welcome(token=TOKEN, expires_at=LINK_EXPIRES)
CONFIRM = ConfirmAddress(token=TOKEN, expires_at=LINK_EXPIRES)
RESET = PasswordReset(token=TOKEN, expires_at=LINK_EXPIRES)
REMINDER = Reminder(
    task_id=uuid.UUID("6f1d2c3b-0000-4000-8000-0000000000aa"),
    title=HOSTILE,
    remind_at=datetime(2026, 12, 4, 8, 20, tzinfo=UTC),
    due_date=date(2026, 12, 4),
    due_time="09:30",
    timezone="Europe/Berlin",
)
EXAMPLES: dict[str, MailKind] = {
    Welcome.KIND: WELCOME,
    ConfirmAddress.KIND: CONFIRM,
    PasswordReset.KIND: RESET,
    Digest.KIND: DIGEST,
    Reminder.KIND: REMINDER,
}
"""One payload of every kind, with user strings wherever the kind shows any."""

CONTEXT = RenderContext(
    to_address=f"{HOSTILE}@example.com",
    public_url="https://tracker.example.org/?a=1&b=2",
    unsubscribe_url="https://tracker.example.org/api/user/unsubscribe?token=abc",
)


def test_every_kind_has_an_example() -> None:
    assert set(EXAMPLES) == set(MAIL_KINDS)
    assert all(kind == example.KIND for kind, example in EXAMPLES.items())


@pytest.mark.parametrize("kind", sorted(MAIL_KINDS))
def test_every_kind_round_trips_through_its_stored_json_and_renders(kind: str) -> None:
    example = EXAMPLES[kind]
    stored = json.loads(json.dumps(example.model_dump(mode="json")))

    read_back = kinds.stored(kind, stored)
    content = read_back.render(CONTEXT)

    assert read_back == example
    assert content.subject == example.subject() != ""
    message = message_from_bytes(
        messages.compose(
            content, sender=SENDER, to="ada@example.com", message_id="<1@example.org>"
        ).as_bytes(),
        policy=policy.default,
    )
    assert isinstance(message, EmailMessage)
    assert message["Subject"] == example.subject()
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None
    assert html is not None
    assert text.get_content().strip()
    assert "<b>" not in html.get_content()


def test_the_idempotency_keys_keep_their_shape() -> None:
    user = uuid.UUID("6f1d2c3b-0000-4000-8000-000000000001")

    assert Welcome().idempotency_key(user) == f"welcome:{user}"
    assert WELCOME.idempotency_key(user) == f"welcome:{user}"
    assert CONFIRM.idempotency_key(user) == f"confirm-address:{user}:2099-01-01T12:30:00+00:00"
    assert RESET.idempotency_key(user) == f"password-reset:{user}:2099-01-01T12:30:00+00:00"
    assert DIGEST.idempotency_key(user) == f"digest:{user}:2026-03-29"


def test_payloads_stored_before_the_models_still_read_back() -> None:
    assert kinds.stored("welcome", {}) == Welcome()
    digest = kinds.stored(
        "digest",
        {
            "day": "2026-03-29",
            "timezone": "Europe/Berlin",
            "completed_count": 12,
            "completed_titles": ["a", "b"],
            "open_count": 0,
            "open_titles": [],
        },
    )
    assert isinstance(digest, Digest)
    assert (digest.day, digest.completed_count, digest.completed_titles) == (
        date(2026, 3, 29),
        12,
        ("a", "b"),
    )


def test_a_payload_no_kind_takes_is_refused_by_name() -> None:
    with pytest.raises(
        kinds.InvalidPayload, match="'digest' payload is invalid: timezone: Field required"
    ):
        kinds.stored("digest", {"day": "2026-03-29", "done": 3})
    with pytest.raises(kinds.InvalidPayload, match="'welcome' payload is invalid"):
        kinds.stored("welcome", {"email": "ada@example.com"})
    with pytest.raises(kinds.InvalidPayload, match="no mail kind 'postcard'"):
        kinds.stored("postcard", {})


def test_payloads_are_frozen() -> None:
    with pytest.raises(ValidationError):
        DIGEST.open_count = 3  # type: ignore[misc]


def _parts(content: messages.MailContent) -> tuple[str, str]:
    return content.text, content.html


def test_the_welcome_links_to_confirming_the_address_in_the_fragment() -> None:
    text, html = _parts(WELCOME.render(CONTEXT))

    link = f"https://tracker.example.org/?a=1&b=2/#verify-email={TOKEN}"
    assert link in text
    assert f'href="{escape(link)}"' in html
    assert "only mail we send you" in text


def test_a_welcome_stored_before_confirmation_links_says_only_welcome() -> None:
    old = kinds.stored("welcome", {})
    text, html = _parts(old.render(CONTEXT))

    assert old == Welcome()
    assert "welcome to task-tracker" in text
    assert "verify-email" not in text + html


def test_the_confirmation_and_reset_mails_carry_their_links() -> None:
    context = RenderContext("ada@example.com", "https://tracker.example.org/", "unused")
    confirm_text, _ = _parts(CONFIRM.render(context))
    reset_text, reset_html = _parts(RESET.render(context))

    assert f"https://tracker.example.org/#verify-email={TOKEN}" in confirm_text
    assert f"https://tracker.example.org/#reset-password={TOKEN}" in reset_text
    assert "within 30 minutes" in reset_text
    assert "within 30 minutes" in reset_html
    assert CONFIRM.subject() == "Confirm your address for task-tracker"
    assert RESET.subject() == "Reset your task-tracker password"


def test_a_link_mail_without_its_token_cannot_be_rendered() -> None:
    sent = kinds.stored("password-reset", {"expires_at": "2099-01-01T12:30:00Z"})

    with pytest.raises(ValueError, match="no token"):
        sent.render(CONTEXT)


def test_the_token_never_shows_in_a_payload_repr() -> None:
    assert TOKEN not in repr(RESET)
    assert TOKEN not in str(CONFIRM)


def test_a_reminders_key_names_its_task_and_instant_in_utc() -> None:
    moved = REMINDER.model_copy(
        update={"remind_at": datetime.fromisoformat("2026-12-04T10:20:00+01:00")}
    )

    assert REMINDER.idempotency_key(uuid.uuid4()) == (
        "reminder:6f1d2c3b-0000-4000-8000-0000000000aa:2026-12-04T08:20:00+00:00"
    )
    assert moved.idempotency_key(uuid.uuid4()) == (
        "reminder:6f1d2c3b-0000-4000-8000-0000000000aa:2026-12-04T09:20:00+00:00"
    )
    assert REMINDER.subject() == f"Reminder: {HOSTILE}"
    assert Reminder.model_validate(
        {**REMINDER.model_dump(mode="json"), "title": "two\nlines"}
    ).subject() == ("Reminder: two lines")
