"""Accessibility: an axe-core audit of the main views, keyboard use, a phone-sized screen."""

from typing import Any

from playwright.async_api import expect

from devsupport.accounts import PASSWORD, new_email
from tests.browser.conftest import App, OpenApp
from tests.conftest import ROOT

AXE = ROOT / "services" / "frontend" / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING_IMPACTS = {"serious", "critical"}


async def audit(app: App, view: str) -> list[str]:
    """axe-core's serious and critical findings on the page as it is now."""
    if not await app.page.evaluate("typeof window.axe !== 'undefined'"):
        await app.page.add_script_tag(path=AXE)
    results: dict[str, Any] = await app.page.evaluate("axe.run(document)")
    findings = []
    for violation in results["violations"]:
        if violation["impact"] in BLOCKING_IMPACTS:
            targets = ", ".join(str(node["target"]) for node in violation["nodes"][:5])
            findings.append(f"{view}: {violation['id']} ({violation['impact']}) at {targets}")
    return findings


async def test_the_main_views_have_no_serious_accessibility_problems(open_app: OpenApp) -> None:
    # Injecting axe-core needs an inline script, which the app's own policy refuses.
    app = await open_app(bypass_csp=True)
    findings = await audit(app, "visitor page")

    form = await app.fill_registration(new_email("browser"), PASSWORD, repeat="something else")
    await expect(form.get_by_label("Repeat password")).to_have_attribute("aria-invalid", "true")
    findings += await audit(app, "register modal")
    await app.page.keyboard.press("Escape")
    form = await app.log_in(new_email("browser"), "wrong password")
    await expect(form.get_by_role("alert")).to_be_visible()
    findings += await audit(app, "log in modal")
    await app.page.keyboard.press("Escape")

    await app.register()
    late = await app.api("POST", "/api/tasks", {"title": "A late task", "due_date": "2020-01-31"})
    assert late.status == 201
    await app.reload()
    await app.add_task("An open task")
    await app.add_task("A finished task")
    await app.task("A finished task").get_by_role("checkbox").check()
    await expect(app.page.locator("#undo-bar")).to_be_visible()
    await expect(app.task("A late task").locator(".due-badge")).to_contain_text("Overdue")
    findings += await audit(app, "task list with a due badge and the Undo offer")
    modal = await app.open_task("An open task")
    await modal.get_by_label("Date").fill("2031-01-15")
    await modal.get_by_label("Time (optional)").fill("08:00")
    await modal.get_by_label("Reminder").select_option(label="At a time I choose")
    await expect(modal.get_by_label("Remind me at")).to_be_visible()
    await app.expect_saved()
    findings += await audit(app, "task modal")
    await app.close_task()

    findings += await audit(app, "confirmation banner")
    settings = await app.open_settings()
    await settings.get_by_label("Timezone").fill("Nowhere/At all")
    await settings.get_by_label("Timezone").press("Tab")
    await settings.get_by_role("button", name="Delete my account…").click()
    findings += await audit(app, "settings modal")
    await app.page.keyboard.press("Escape")
    await app.log_out()

    login = await app.form("Log in")
    await login.get_by_role("button", name="Forgot your password?").click()
    forgot = app.dialog("Forgot your password?")
    await expect(forgot.get_by_label("Email")).to_be_focused()
    findings += await audit(app, "forgot password modal")
    await app.page.keyboard.press("Escape")
    await expect(forgot).to_be_hidden()
    await app.page.evaluate("TaskTracker.account.askNewPassword('from-a-link')")
    await expect(
        app.dialog("Choose a new password").get_by_label("New password", exact=True)
    ).to_be_focused()
    findings += await audit(app, "new password modal")

    assert findings == [], "\n".join(findings)


async def test_everything_works_from_the_keyboard(open_app: OpenApp) -> None:
    app = await open_app()
    keyboard = app.page.keyboard
    log_in_button = app.header.get_by_role("button", name="Log in")

    for _ in range(4):  # skip link, brand, Register, Log in
        await keyboard.press("Tab")
    await expect(log_in_button).to_be_focused()
    await keyboard.press("Enter")
    form = app.dialog("Log in")
    await expect(form.get_by_label("Email")).to_be_focused()
    await keyboard.press("Escape")
    await expect(form).to_be_hidden()
    await expect(log_in_button).to_be_focused()

    email = new_email("browser")
    await app.header.get_by_role("button", name="Register").press("Enter")
    form = app.dialog("Register")
    await expect(form.get_by_label("Email")).to_be_focused()
    await keyboard.type(email)
    await keyboard.press("Tab")
    await expect(form.get_by_label("Password", exact=True)).to_be_focused()
    await expect(form.get_by_label("Password", exact=True)).to_have_accessible_description(
        "At least 8 characters."
    )
    await keyboard.type(PASSWORD)
    await keyboard.press("Tab")
    await expect(form.get_by_label("Repeat password")).to_be_focused()
    await keyboard.type(PASSWORD)
    await keyboard.press("Enter")
    await app.expect_logged_in(email)

    await expect(app.new_task_field).to_be_focused()
    await keyboard.type("Typed, not clicked")
    await keyboard.press("Enter")
    await expect(app.task("Typed, not clicked")).not_to_have_attribute("aria-busy", "true")
    await keyboard.press("Tab")  # the Add button
    await keyboard.press("Tab")  # the task's checkbox
    await expect(app.task("Typed, not clicked").get_by_role("checkbox")).to_be_focused()
    await keyboard.press("Tab")  # the task
    task_button = app.task("Typed, not clicked").get_by_role("button")
    await expect(task_button).to_be_focused()
    await keyboard.press("Enter")
    modal = app.dialog("Task")
    await expect(modal.get_by_label("Title")).to_be_focused()
    await keyboard.press("Tab")
    await keyboard.type("From the keyboard")
    done = modal.get_by_label("Done", exact=True)
    for _ in range(8):  # past the due date's parts and the reminder
        await keyboard.press("Tab")
        if await done.evaluate("element => element === document.activeElement"):
            break
    await expect(done).to_be_focused()
    await keyboard.press("Space")
    await expect(done).to_be_checked()
    await app.expect_saved()
    await keyboard.press("Escape")
    await expect(modal).to_be_hidden()
    await expect(task_button).to_be_focused()
    await expect(app.task("Typed, not clicked", "done")).to_contain_text("From the keyboard")


async def test_a_phone_sized_screen_shows_everything_without_sideways_scrolling(
    open_app: OpenApp,
) -> None:
    app = await open_app(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True)
    await app.shoot("phone-visitor")
    await app.register(f"a-rather-long-address-{new_email('browser')}")
    title = "A task with a title long enough that it has to wrap on a phone's narrow screen"
    await app.add_task(title)
    await app.shoot("phone-list")

    async def overflow() -> int:
        width: int = await app.page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        return width

    assert await overflow() == 0
    await expect(app.header.get_by_role("button", name="Log out")).to_be_in_viewport()
    await expect(app.add_button).to_be_in_viewport()

    modal = await app.open_task(title)
    box = await modal.locator(".modal-content").bounding_box()
    assert box is not None
    assert box["width"] == 360, "the task modal fills a phone's screen"
    await expect(modal.get_by_role("button", name="Delete")).to_be_in_viewport()
    await app.shoot("phone-task")
    assert await overflow() == 0
