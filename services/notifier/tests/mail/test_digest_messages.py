"""The digest mail's content: both parts, capped lists, escaping, one-click unsubscribe."""

from datetime import date
from email import message_from_bytes, policy
from email.headerregistry import Address
from email.message import EmailMessage

from tracker_notifier.mail import messages
from tracker_notifier.mail.kinds import Digest, RenderContext

SENDER = Address("task-tracker", addr_spec="no-reply@tracker.example.org")
UNSUBSCRIBE = "https://tracker.example.org/api/user/unsubscribe?token=abc"


def summary(
    *, completed: list[str], open_: list[str], completed_count: int = -1, open_count: int = -1
) -> Digest:
    return Digest(
        day=date(2026, 3, 29),
        timezone="Europe/Berlin",
        completed_count=len(completed) if completed_count < 0 else completed_count,
        completed_titles=tuple(completed),
        open_count=len(open_) if open_count < 0 else open_count,
        open_titles=tuple(open_),
    )


def build(content: Digest) -> EmailMessage:
    message = messages.compose(
        content.render(
            RenderContext(
                to_address="ada@example.com",
                public_url="https://tracker.example.org",
                unsubscribe_url=UNSUBSCRIBE,
            )
        ),
        sender=SENDER,
        to="ada@example.com",
        message_id=messages.new_message_id(SENDER),
    )
    parsed = message_from_bytes(message.as_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None
    assert html is not None
    return str(text.get_content()), str(html.get_content())


def test_both_parts_when_both_hold() -> None:
    message = build(summary(completed=["Buy milk"], open_=["Write report", "Call Bob"]))
    text, html = parts(message)

    assert message["Subject"] == "Your day in task-tracker: 1 completed, 2 open"
    assert "Sunday, 29 March 2026" in text
    assert "You completed 1 task today:\n  - Buy milk\n" in text
    assert "You have 2 unfinished tasks:\n  - Write report\n  - Call Bob\n" in text
    assert "https://tracker.example.org" in text
    assert "You completed 1 task today" in html
    assert "You have 2 unfinished tasks" in html


def test_one_click_unsubscribe_headers() -> None:
    message = build(summary(completed=["a"], open_=[]))

    assert message["List-Unsubscribe"] == f"<{UNSUBSCRIBE}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text, html = parts(message)
    assert UNSUBSCRIBE in text
    assert 'href="https://tracker.example.org/api/user/unsubscribe?token=abc"' in html


def test_a_part_with_nothing_in_it_is_left_out() -> None:
    only_open, _ = parts(build(summary(completed=[], open_=["Call Bob"])))
    only_done, _ = parts(build(summary(completed=["Call Bob"], open_=[])))

    assert "You have 1 unfinished task:" in only_open
    assert "completed" not in only_open
    assert "You completed 1 task today" in only_done
    assert "unfinished" not in only_done


def test_long_lists_are_capped_with_the_rest_counted() -> None:
    done = [f"done {number}" for number in range(12)]
    open_ = [f"open {number}" for number in range(5)]
    text, html = parts(
        build(summary(completed=done[:10], open_=open_, completed_count=12, open_count=9))
    )

    assert "done 9" in text
    assert "done 10" not in text
    assert "and 2 more" in text
    assert "open 4" in text
    assert "and 4 more" in text
    assert "<em>and 2 more</em>" in html


def test_titles_are_escaped_in_html_only() -> None:
    title = "<script>alert('x')</script> & co"
    text, html = parts(build(summary(completed=[title], open_=[])))

    assert title in text
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; co" in html


def test_nothing_to_say_means_no_news() -> None:
    assert not summary(completed=[], open_=[]).has_news
    assert summary(completed=[], open_=["x"]).has_news


def with_due(
    *, overdue: list[str], due_today: list[str], overdue_count: int = -1, open_: list[str]
) -> Digest:
    return summary(completed=[], open_=open_).model_copy(
        update={
            "overdue_count": len(overdue) if overdue_count < 0 else overdue_count,
            "overdue_titles": tuple(overdue),
            "due_today_count": len(due_today),
            "due_today_titles": tuple(due_today),
        }
    )


def test_overdue_and_due_today_are_listed_between_completed_and_open() -> None:
    message = build(
        with_due(
            overdue=["Pay rent", "Call <Bob>"],
            due_today=["Dentist"],
            open_=["Pay rent", "Call <Bob>", "Dentist"],
        )
    )
    text, html = parts(message)

    assert message["Subject"] == "Your day in task-tracker: 0 completed, 3 open, 2 overdue"
    assert "2 tasks overdue:\n  - Pay rent\n  - Call <Bob>\n" in text
    assert "1 task due today:\n  - Dentist\n" in text
    assert text.index("overdue:") < text.index("due today:") < text.index("unfinished")
    assert "<h2>2 tasks overdue</h2>" in html
    assert "<li>Call &lt;Bob&gt;</li>" in html
    assert "<h2>1 task due today</h2>" in html


def test_the_due_parts_are_left_out_when_empty_and_capped_when_long() -> None:
    nothing_due, _ = parts(build(with_due(overdue=[], due_today=[], open_=["Idle"])))
    many = [f"late {number}" for number in range(5)]
    capped, _ = parts(build(with_due(overdue=many, overdue_count=8, due_today=[], open_=many)))

    assert "overdue" not in nothing_due
    assert "due today" not in nothing_due
    assert "8 tasks overdue:" in capped
    assert "late 4" in capped
    assert "and 3 more" in capped
    assert "due today" not in capped


def test_only_overdue_tasks_are_news() -> None:
    only_overdue = summary(completed=[], open_=[]).model_copy(
        update={"overdue_count": 1, "overdue_titles": ("Late",)}
    )

    assert only_overdue.has_news


def test_a_digest_stored_before_the_due_parts_still_renders() -> None:
    stored = summary(completed=["a"], open_=[]).model_dump(
        mode="json",
        exclude={"overdue_count", "overdue_titles", "due_today_count", "due_today_titles"},
    )

    text, _ = parts(build(Digest.model_validate(stored)))

    assert "You completed 1 task today" in text
    assert "overdue" not in text
