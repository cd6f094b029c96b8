from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.utils import parsedate_to_datetime

from tracker_notifier.mail import messages
from tracker_notifier.mail.kinds import RenderContext, Welcome

SENDER = Address("task-tracker", addr_spec="no-reply@tracker.example.org")


def received(message: Message) -> EmailMessage:
    """The message as a mail client parses what the server received."""
    parsed = message_from_bytes(message.as_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def build(email: str) -> EmailMessage:
    return received(
        messages.compose(
            Welcome().render(
                RenderContext(
                    to_address=email,
                    public_url="https://tracker.example.org/?a=1&b=2",
                    unsubscribe_url="https://tracker.example.org/api/user/unsubscribe?token=abc",
                )
            ),
            sender=SENDER,
            to=email,
            message_id=messages.new_message_id(SENDER),
            date=datetime(2026, 5, 1, 12, 30, tzinfo=UTC),
        )
    )


def test_the_welcome_mail_has_both_parts_and_proper_headers() -> None:
    message = build("ada@example.com")
    parsed = message_from_bytes(message.as_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage)

    assert parsed.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in parsed.iter_parts()] == [
        "text/plain",
        "text/html",
    ]
    assert parsed["Subject"] == "Welcome to task-tracker"
    assert parsed["From"] == "task-tracker <no-reply@tracker.example.org>"
    assert parsed["Message-ID"].startswith("<")
    assert parsed["Message-ID"].endswith("@tracker.example.org>")
    assert parsedate_to_datetime(parsed["Date"]) == datetime(2026, 5, 1, 12, 30, tzinfo=UTC)


def test_user_strings_are_escaped_in_html_only() -> None:
    email = "<b>o'brien&co</b>@example.com"
    message = build(email)

    text_part = message.get_body(("plain",))
    html_part = message.get_body(("html",))
    assert isinstance(text_part, EmailMessage)
    assert isinstance(html_part, EmailMessage)
    html = html_part.get_content()
    assert "&lt;b&gt;o&#x27;brien&amp;co&lt;/b&gt;@example.com" in html
    assert "<b>" not in html
    assert 'href="https://tracker.example.org/?a=1&amp;b=2"' in html
    assert email in text_part.get_content()


def test_every_message_id_is_new() -> None:
    ids = {messages.new_message_id(SENDER) for _ in range(100)}
    assert len(ids) == 100


def test_non_ascii_names_and_subjects_are_encoded() -> None:
    content = messages.MailContent(
        subject="Ваш день: 1 готово", text="Привет", html="<p>Привет</p>"
    )
    message = received(
        messages.compose(
            content,
            sender=Address("Трекер задач", addr_spec="no-reply@tracker.example.org"),
            to="ada@example.com",
            message_id=messages.new_message_id(SENDER),
        )
    )

    assert message["Subject"] == "Ваш день: 1 готово"
    assert message["From"].addresses[0].display_name == "Трекер задач"
    text = message.get_body(("plain",))
    assert text is not None
    assert text.get_content().strip() == "Привет"
