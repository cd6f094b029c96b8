"""Due dates, reminders, the due badges and the list's order, ticking done from the list,
Undo for done and for delete, and links to a task (``#task=<id>``).

Times are the person's: their account's timezone, which these tests set far from the
browser's own (Playwright's ``timezone_id``), so that reading the browser's clock instead
would show. The expected instants are computed with :mod:`zoneinfo`, independently of the
app's own arithmetic.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Locator, expect

from tests.browser.conftest import App, OpenApp

BERLIN = "Europe/Berlin"
# Clocks in Berlin go forward at 02:00 on 28 March 2027 (that day has 23 hours).
SPRING_FORWARD = date(2027, 3, 28)
LOCALE = "en-US"


def instant(day: date, clock: str, zone: str) -> datetime:
    """The instant at which the wall clock in ``zone`` shows ``clock`` on ``day``
    (``fold=0``: the earlier of a repeated time; a skipped time read with the offset
    before the change)."""
    hour, minute = (int(part) for part in clock.split(":"))
    wall = datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZoneInfo(zone))
    return wall.astimezone(UTC)


def parsed(value: object) -> datetime:
    assert isinstance(value, str), value
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def locale_date(day: date) -> str:
    """``day`` as Intl's medium date style writes it in en-US ("Jun 21, 2026")."""
    return f"{day:%b} {day.day}, {day.year}"


async def stored_task(app: App, title: str) -> dict[str, Any]:
    response = await app.api("GET", "/api/tasks")
    assert response.status == 200
    tasks: list[dict[str, Any]] = await response.json()
    return next(task for task in tasks if task["title"] == title)


async def create(app: App, title: str, **fields: object) -> dict[str, Any]:
    response = await app.api("POST", "/api/tasks", {"title": title, **fields})
    assert response.status == 201, await response.text()
    task: dict[str, Any] = await response.json()
    return task


async def person_in(open_app: OpenApp, zone: str, **context_options: Any) -> App:
    """A person whose account is in ``zone``, in a browser set as ``context_options`` say."""
    app = await open_app(locale=LOCALE, **context_options)
    await app.register()
    changed = await app.api("PATCH", "/api/user", {"timezone": zone})
    assert changed.status == 200
    await app.reload()
    return app


def badge(app: App, title: str) -> Locator:
    return app.task(title).locator(".due-badge")


def bar(app: App) -> Locator:
    """The Undo offer at the bottom of the page."""
    return app.page.locator("#undo-bar")


async def eventually(read: Callable[[], Awaitable[object]], expected: object) -> None:
    """``read()`` returns ``expected`` within a few seconds (the server catching up)."""
    deadline = time.monotonic() + 10
    while (value := await read()) != expected:
        assert time.monotonic() < deadline, f"{value!r}, not {expected!r}"
        await asyncio.sleep(0.1)


# The task modal: date, time, reminder


async def test_a_due_date_time_and_reminder_save_themselves_and_survive_a_reload(
    open_app: OpenApp,
) -> None:
    # The browser in Tokyo (no clock changes); the account in Berlin.
    app = await person_in(open_app, BERLIN, timezone_id="Asia/Tokyo")
    await app.add_task("File the taxes")

    modal = await app.open_task("File the taxes")
    reminder = modal.get_by_label("Reminder")
    await expect(modal.get_by_label("Time (optional)")).to_be_disabled()
    await expect(reminder.locator("option[value='1h']")).to_be_disabled()
    await expect(modal).to_contain_text(f"In your timezone, {BERLIN}")
    await modal.get_by_label("Date").fill(SPRING_FORWARD.isoformat())
    await modal.get_by_label("Time (optional)").fill("09:00")
    await app.expect_saved()
    await reminder.select_option(label="1 day before")
    await app.expect_saved()
    await app.shoot("due-and-reminder")

    task = await stored_task(app, "File the taxes")
    assert task["due_date"] == "2027-03-28"
    assert task["due_time"] == "09:00"
    # The same time on the day before: 23 hours before, as that night has one hour fewer.
    day_before = instant(SPRING_FORWARD - timedelta(days=1), "09:00", BERLIN)
    assert parsed(task["reminder_at"]) == day_before
    assert instant(SPRING_FORWARD, "09:00", BERLIN) - day_before == timedelta(hours=23)

    await reminder.select_option(label="1 hour before")
    await app.expect_saved()
    task = await stored_task(app, "File the taxes")
    assert parsed(task["reminder_at"]) == datetime(2027, 3, 28, 6, 0, tzinfo=UTC)

    # Moving the due time moves a relative reminder with it.
    await modal.get_by_label("Time (optional)").fill("10:30")
    await app.expect_saved()
    task = await stored_task(app, "File the taxes")
    assert task["due_time"] == "10:30"
    assert parsed(task["reminder_at"]) == instant(SPRING_FORWARD, "09:30", BERLIN)
    await app.close_task()

    await app.reload()
    modal = await app.open_task("File the taxes")
    await expect(modal.get_by_label("Date")).to_have_value("2027-03-28")
    await expect(modal.get_by_label("Time (optional)")).to_have_value("10:30")
    await expect(modal.get_by_label("Reminder")).to_have_value("1h")

    # A time the clocks skip that night: 02:30 is read as 03:30 summer time.
    await modal.get_by_label("Reminder").select_option(label="At a time I choose")
    custom = modal.get_by_label("Remind me at")
    await expect(custom).to_be_visible()
    await custom.fill("2027-03-28T02:30")
    await app.expect_saved()
    task = await stored_task(app, "File the taxes")
    assert parsed(task["reminder_at"]) == datetime(2027, 3, 28, 1, 30, tzinfo=UTC)
    await app.close_task()

    await app.reload()
    modal = await app.open_task("File the taxes")
    await expect(modal.get_by_label("Reminder")).to_have_value("custom")
    await expect(modal.get_by_label("Remind me at")).to_have_value("2027-03-28T03:30")
    await expect(modal.locator("#task-reminder-help")).to_contain_text(
        "We mail you a reminder on Sun, Mar 28, 2027, 3:30"
    )

    # The date cleared: the time goes with it, the custom reminder stays; then no reminder.
    await modal.get_by_label("Date").fill("")
    await expect(modal.get_by_label("Time (optional)")).to_be_disabled()
    await app.expect_saved()
    task = await stored_task(app, "File the taxes")
    assert (task["due_date"], task["due_time"]) == (None, None)
    assert task["reminder_at"] is not None
    await modal.get_by_label("Reminder").select_option(label="None")
    await app.expect_saved()
    assert (await stored_task(app, "File the taxes"))["reminder_at"] is None
    await app.close_task()
    await app.reload()
    await expect(badge(app, "File the taxes")).to_have_count(0)


async def test_a_reminder_at_the_due_time_in_the_repeated_hour_of_autumn(
    open_app: OpenApp,
) -> None:
    app = await person_in(open_app, BERLIN, timezone_id="America/Los_Angeles")
    await app.add_task("Change the clocks")
    modal = await app.open_task("Change the clocks")
    # Berlin's clocks go back at 03:00 on 31 October 2027: 02:30 happens twice.
    await modal.get_by_label("Date").fill("2027-10-31")
    await modal.get_by_label("Time (optional)").fill("02:30")
    await modal.get_by_label("Reminder").select_option(label="At the due time")
    await app.expect_saved()
    task = await stored_task(app, "Change the clocks")
    assert parsed(task["reminder_at"]) == datetime(2027, 10, 31, 0, 30, tzinfo=UTC)
    await modal.get_by_label("Reminder").select_option(label="10 minutes before")
    await app.expect_saved()
    task = await stored_task(app, "Change the clocks")
    assert parsed(task["reminder_at"]) == datetime(2027, 10, 31, 0, 20, tzinfo=UTC)


# The list: badges and order


@pytest.mark.parametrize(
    ("account_zone", "browser_zone"),
    [("Pacific/Kiritimati", "Etc/GMT+12"), ("Etc/GMT+12", "Pacific/Kiritimati")],
)
async def test_due_badges_count_days_in_the_account_s_timezone(
    open_app: OpenApp, account_zone: str, browser_zone: str
) -> None:
    # At this instant it is already the 16th at UTC+14 and still the 14th at UTC-12.
    now = datetime(2026, 6, 15, 11, 0, tzinfo=UTC)
    app = await open_app(load=False, locale=LOCALE, timezone_id=browser_zone)
    await app.page.clock.set_fixed_time(now)
    await app.open()
    await app.register()
    assert (await app.api("PATCH", "/api/user", {"timezone": account_zone})).status == 200
    today = now.astimezone(ZoneInfo(account_zone)).date()
    browsers_today = now.astimezone(ZoneInfo(browser_zone)).date()
    assert abs((today - browsers_today).days) == 2

    await create(app, "Undated, older")
    await create(app, "In five days", due_date=(today + timedelta(days=5)).isoformat())
    await create(app, "Tomorrow", due_date=(today + timedelta(days=1)).isoformat())
    await create(app, "Today, at noon", due_date=today.isoformat(), due_time="12:00")
    await create(app, "Today", due_date=today.isoformat())
    await create(app, "Three days late", due_date=(today - timedelta(days=3)).isoformat())
    await create(app, "A day late", due_date=(today - timedelta(days=1)).isoformat())
    await create(app, "Undated, newer")
    done = await create(app, "Done and late", due_date=(today - timedelta(days=9)).isoformat())
    assert (await app.api("PATCH", f"/api/tasks/{done['id']}", {"status": "done"})).status == 200
    lists = app.watch_requests("GET", "/api/tasks?")

    await app.reload()
    await expect(app.titles("open")).to_have_text(
        [
            "Three days late",
            "A day late",
            "Today, at noon",
            "Today",
            "Tomorrow",
            "In five days",
            "Undated, newer",
            "Undated, older",
        ]
    )
    assert any("status=open" in r.url and "sort=due" in r.url for r in lists)
    await expect(badge(app, "Three days late")).to_have_text("Overdue · 3 days")
    await expect(badge(app, "A day late")).to_have_text("Overdue · 1 day")
    await expect(badge(app, "Today")).to_have_text("Today")
    await expect(badge(app, "Today, at noon")).to_have_text("Today · 12:00 PM")
    await expect(badge(app, "Tomorrow")).to_have_text("Tomorrow")
    await expect(badge(app, "In five days")).to_have_text(locale_date(today + timedelta(days=5)))
    await expect(badge(app, "Undated, newer")).to_have_count(0)
    await expect(badge(app, "Done and late")).to_have_count(0)
    for late in ("Three days late", "A day late"):
        await expect(app.task(late)).to_have_class("list-group-item task-item is-overdue")
        await expect(badge(app, late)).to_have_class("badge due-badge text-bg-danger")
    await expect(app.task("Today")).not_to_have_class("list-group-item task-item is-overdue")
    await app.shoot("badges")


async def test_due_badges_across_a_change_of_the_clocks(open_app: OpenApp) -> None:
    # 23:30 in Berlin on the day its clocks went forward; 14:30 in Los Angeles.
    now = instant(SPRING_FORWARD, "23:30", BERLIN)
    app = await open_app(load=False, locale=LOCALE, timezone_id="America/Los_Angeles")
    await app.page.clock.set_fixed_time(now)
    await app.open()
    await app.register()
    assert (await app.api("PATCH", "/api/user", {"timezone": BERLIN})).status == 200
    for title, day in [
        ("Due the day before", SPRING_FORWARD - timedelta(days=1)),
        ("Due two days before", SPRING_FORWARD - timedelta(days=2)),
        ("Due that day", SPRING_FORWARD),
        ("Due the day after", SPRING_FORWARD + timedelta(days=1)),
    ]:
        await create(app, title, due_date=day.isoformat())

    await app.reload()
    await expect(badge(app, "Due two days before")).to_have_text("Overdue · 2 days")
    await expect(badge(app, "Due the day before")).to_have_text("Overdue · 1 day")
    await expect(badge(app, "Due that day")).to_have_text("Today")
    await expect(badge(app, "Due the day after")).to_have_text("Tomorrow")


async def test_the_badges_move_on_at_the_person_s_midnight(open_app: OpenApp) -> None:
    zone = "Pacific/Kiritimati"
    start = datetime(2026, 6, 15, 23, 58, tzinfo=ZoneInfo(zone))
    app = await open_app(load=False, locale=LOCALE, timezone_id="Etc/GMT+12")
    await app.page.clock.install(time=start)
    await app.open()
    await app.register()
    assert (await app.api("PATCH", "/api/user", {"timezone": zone})).status == 200
    await create(app, "Due on the 15th", due_date="2026-06-15")
    await app.reload()
    await expect(badge(app, "Due on the 15th")).to_have_text("Today")

    await app.page.clock.pause_at(start + timedelta(minutes=1, seconds=30))
    await app.page.clock.run_for(2 * 60 * 1000)
    await expect(badge(app, "Due on the 15th")).to_have_text("Overdue · 1 day")


# Done from the list, with Undo


async def test_the_checkbox_ticks_a_task_done_and_undo_reopens_it(open_app: OpenApp) -> None:
    app = await open_app()
    await app.register()
    await app.add_task("Pay rent")
    await app.add_task("Book flights")

    checkbox = app.task("Pay rent").get_by_role("checkbox", name="Done: Pay rent")
    await checkbox.check()
    await expect(app.dialog("Task")).to_be_hidden()
    await expect(app.task("Pay rent", "done")).to_have_count(1)
    await expect(app.task("Pay rent", "done").get_by_role("checkbox")).to_be_focused()
    await expect(bar(app)).to_contain_text("“Pay rent” is done.")
    await app.shoot("done-with-undo")
    await eventually(lambda: status_of(app, "Pay rent"), "done")

    await bar(app).get_by_role("button", name="Undo").click()
    await expect(bar(app)).to_be_hidden()
    await expect(app.task("Pay rent", "open")).to_have_count(1)
    await expect(app.task("Pay rent", "open").get_by_role("checkbox")).not_to_be_checked()
    await eventually(lambda: status_of(app, "Pay rent"), "open")

    await app.task("Book flights").get_by_role("checkbox").check()
    await expect(bar(app)).to_be_hidden(timeout=15_000)  # the offer ends by itself
    await app.reload()
    await expect(app.titles("done")).to_have_text(["Book flights"])
    await app.task("Book flights").get_by_role("checkbox").uncheck()
    await expect(bar(app)).to_contain_text("“Book flights” is open again.")
    await app.reload()
    await expect(app.titles("open")).to_have_text(["Book flights", "Pay rent"])


async def status_of(app: App, title: str) -> str:
    status: str = (await stored_task(app, title))["status"]
    return status


# Delete, with Undo


async def test_delete_can_be_undone_and_happens_when_the_offer_ends(open_app: OpenApp) -> None:
    app = await open_app()
    await app.register()
    await app.add_task("Keep me")
    await app.add_task("Throw me away")
    kept = await stored_task(app, "Throw me away")
    deletes = app.watch_requests("DELETE", "/api/tasks/")

    modal = await app.open_task("Throw me away")
    await modal.get_by_label("Description").fill("Written just before deleting")
    await modal.get_by_role("button", name="Delete").click()
    await expect(modal).to_be_hidden()
    await expect(app.task("Throw me away")).to_have_count(0)
    await expect(app.page.locator("#open-count")).to_have_text("1")
    await expect(bar(app)).to_contain_text("Deleted “Throw me away”.")
    await app.shoot("deleted-with-undo")
    await bar(app).get_by_role("button", name="Undo").click()

    await expect(app.task("Throw me away")).to_have_count(1)
    await expect(app.task("Throw me away").get_by_role("button")).to_be_focused()
    assert deletes == [], "nothing is deleted while Undo is offered"
    again = await app.api("GET", f"/api/tasks/{kept['id']}")
    assert again.status == 200
    assert (await again.json())["description"] == "Written just before deleting"

    modal = await app.open_task("Throw me away")
    async with app.page.expect_request(lambda request: request.method == "DELETE", timeout=15_000):
        await modal.get_by_role("button", name="Delete").click()
    await expect(bar(app)).to_be_hidden()
    await eventually(lambda: status_code(app, f"/api/tasks/{kept['id']}"), 404)
    await app.reload()
    await expect(app.titles("open")).to_have_text(["Keep me"])


async def test_a_delete_waiting_for_undo_is_sent_when_the_page_goes_away(
    open_app: OpenApp,
) -> None:
    app = await open_app()
    await app.register()
    await app.add_task("Keep me")
    await app.add_task("Gone on reload")
    await app.add_task("Gone on log out")

    modal = await app.open_task("Gone on reload")
    await modal.get_by_role("button", name="Delete").click()
    await expect(bar(app)).to_be_visible()
    await app.reload()  # at once, the offer still running
    await expect(app.titles("open")).to_have_text(["Gone on log out", "Keep me"])

    modal = await app.open_task("Gone on log out")
    await modal.get_by_role("button", name="Delete").click()
    await expect(bar(app)).to_be_visible()
    email = (await (await app.api("GET", "/api/user")).json())["email"]
    await app.log_out()
    await expect(bar(app)).to_be_hidden()
    await app.log_in(email)
    await app.expect_logged_in(email)
    await expect(app.titles("open")).to_have_text(["Keep me"])


async def status_code(app: App, path: str) -> int:
    return (await app.api("GET", path)).status


# Links to a task


async def test_a_task_link_opens_the_task(open_app: OpenApp) -> None:
    app = await open_app()
    email = await app.register()
    first = await create(app, "Water the plants")
    second = await create(app, "Call grandma", description="Sunday afternoon")

    await app.page.goto(f"{app.base_url}/#task={first['id']}")
    await app.expect_loaded()
    modal = app.dialog("Task")
    await expect(modal.get_by_label("Title")).to_have_value("Water the plants")
    await expect(modal.get_by_label("Title")).to_be_focused()
    assert "#" not in app.page.url, "the link leaves the address bar once followed"

    # Another link while the app runs (and the modal is open): hashchange.
    await app.page.evaluate(f"window.location.hash = 'task={second['id']}'")
    await expect(modal.get_by_label("Title")).to_have_value("Call grandma")
    await expect(modal.get_by_label("Description")).to_have_value("Sunday afternoon")
    await app.close_task()

    # A task that is not (or no longer) there.
    await app.page.evaluate("window.location.hash = 'task=00000000-0000-0000-0000-000000000001'")
    await expect(app.notice).to_contain_text("no longer exists")
    await expect(modal).to_be_hidden()

    # Not logged in: the link waits for the person to log in.
    phone = await open_app(load=False)
    await phone.page.goto(f"{phone.base_url}/#task={second['id']}")
    await phone.expect_loaded()
    login = phone.dialog("Log in")
    await expect(login).to_be_visible()
    await expect(phone.notice).to_contain_text("Log in to see the task")
    await phone.reload()  # the link survives a reload before logging in
    await expect(login).to_be_visible()
    await phone.log_in(email)
    await expect(phone.dialog("Task").get_by_label("Title")).to_have_value("Call grandma")
    await phone.shoot("opened-from-link")


async def test_a_task_link_and_a_verification_link_both_work_in_one_tab(
    open_app: OpenApp,
) -> None:
    app = await open_app()
    await app.register()
    task = await create(app, "Sort the mail")
    await app.page.evaluate("window.location.hash = 'verify-email=not-a-real-token'")
    await expect(app.notice).to_contain_text("could not be confirmed")
    await app.page.evaluate(f"window.location.hash = 'task={task['id']}'")
    await expect(app.dialog("Task").get_by_label("Title")).to_have_value("Sort the mail")
