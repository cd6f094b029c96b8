"""The Settings modal: preferences that save themselves, changing the password, deleting
the account."""

import asyncio
import time

from playwright.async_api import expect

from devsupport.accounts import PASSWORD
from tests.browser.conftest import App, OpenApp

NEW_PASSWORD = "a brand new passphrase"


async def stored(app: App) -> dict[str, object]:
    response = await app.api("GET", "/api/user")
    assert response.status == 200
    user: dict[str, object] = await response.json()
    return user


async def test_preferences_save_themselves(open_app: OpenApp) -> None:
    app = await open_app(timezone_id="Pacific/Kiritimati")
    await app.register()
    await app.api("PATCH", "/api/user", {"timezone": "UTC"})
    patches = app.watch_requests("PATCH", "/api/user")

    modal = await app.open_settings()
    timezone = modal.get_by_label("Timezone")
    await expect(timezone).to_have_value("UTC")
    suggestion = modal.get_by_role("button", name="Use this browser's timezone")
    await expect(suggestion).to_have_text("Use this browser's timezone: Pacific/Kiritimati")
    options = await app.page.locator("#timezone-options option").count()
    assert options > 300, "every IANA zone is offered"

    await timezone.fill("Europe/Berl")
    await timezone.press("Tab")
    await expect(timezone).to_have_attribute("aria-invalid", "true")
    assert patches == [], "a name half typed is never sent"
    await timezone.fill("Europe/Berlin")
    await expect(timezone).not_to_have_attribute("aria-invalid", "true")
    await expect(app.settings_state).to_have_text("All changes saved")
    assert (await stored(app))["timezone"] == "Europe/Berlin"

    await modal.get_by_label("The nightly digest").uncheck()
    await expect(app.settings_state).to_have_text("All changes saved")
    await modal.get_by_label("Reminder mails").uncheck()
    await expect(app.settings_state).to_have_text("All changes saved")
    user = await stored(app)
    assert user["digest_enabled"] is False
    assert user["reminders_enabled"] is False
    await app.shoot("settings")

    await suggestion.click()
    await expect(timezone).to_have_value("Pacific/Kiritimati")
    await expect(suggestion).to_be_hidden()
    await expect(app.settings_state).to_have_text("All changes saved")
    assert (await stored(app))["timezone"] == "Pacific/Kiritimati"

    await app.page.keyboard.press("Escape")
    await app.reload()
    modal = await app.open_settings()
    await expect(modal.get_by_label("Timezone")).to_have_value("Pacific/Kiritimati")
    await expect(modal.get_by_label("The nightly digest")).not_to_be_checked()
    await expect(modal.get_by_label("Reminder mails")).not_to_be_checked()


async def test_a_timezone_typed_just_before_closing_is_saved(open_app: OpenApp) -> None:
    app = await open_app()
    await app.register()

    modal = await app.open_settings()
    await modal.get_by_label("Timezone").fill("America/Lima")
    await app.page.keyboard.press("Escape")  # before the pause after typing is over
    await expect(modal).to_be_hidden()

    deadline = time.monotonic() + 5
    while (await stored(app))["timezone"] != "America/Lima":
        assert time.monotonic() < deadline, "closing the modal sends what waits"
        await asyncio.sleep(0.1)


async def test_change_the_password_ends_the_other_sessions(open_app: OpenApp) -> None:
    app = await open_app()
    email = await app.register()
    laptop = await open_app()
    await laptop.log_in(email)
    await laptop.expect_logged_in(email)

    modal = await app.open_settings()
    await modal.get_by_label("Current password").fill("not my password")
    await modal.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    await modal.get_by_label("Repeat the new password").fill(NEW_PASSWORD)
    await modal.get_by_role("button", name="Change the password").click()
    current = modal.get_by_label("Current password")
    await expect(current).to_have_attribute("aria-invalid", "true")
    await expect(current).to_be_focused()

    await current.fill(PASSWORD)
    await modal.get_by_role("button", name="Change the password").click()
    await expect(modal.locator("#password-done")).to_contain_text("Your password has been changed")
    await expect(current).to_have_value("")
    await app.shoot("password-changed")

    deadline = time.monotonic() + 5
    while (await laptop.api("GET", "/api/tasks")).status != 401:
        assert time.monotonic() < deadline, "the other device is logged out within a second"
        await asyncio.sleep(0.2)
    await app.page.keyboard.press("Escape")
    await app.reload()
    await app.expect_logged_in(email)

    await app.log_out()
    form = await app.log_in(email, PASSWORD)
    await expect(form.get_by_role("alert")).to_have_text("Wrong email or password")
    await app.log_in(email, NEW_PASSWORD)
    await app.expect_logged_in(email)


async def test_delete_the_account_after_typing_the_password(open_app: OpenApp) -> None:
    app = await open_app()
    email = await app.register()
    await app.add_task("Something of mine")

    modal = await app.open_settings()
    await modal.get_by_role("button", name="Delete my account…").click()
    password = modal.get_by_label("Your password, to confirm")
    await expect(password).to_be_focused()
    await modal.get_by_role("button", name="Keep my account").click()
    await expect(password).to_be_hidden()

    await modal.get_by_role("button", name="Delete my account…").click()
    await password.fill("not my password")
    await modal.get_by_role("button", name="Delete my account for good").click()
    await expect(password).to_have_attribute("aria-invalid", "true")
    await app.shoot("delete-wrong-password")

    await password.fill(PASSWORD)
    await modal.get_by_role("button", name="Delete my account for good").click()
    await app.expect_visitor()
    await expect(modal).to_be_hidden()
    await expect(app.notice).to_contain_text("Your account and all its tasks have been deleted")
    assert (await app.api("GET", "/api/user")).status == 401

    form = await app.log_in(email)
    await expect(form.get_by_role("alert")).to_have_text("Wrong email or password")
    await app.page.keyboard.press("Escape")
    await app.register(email)  # the same address starts again, empty
    await expect(app.page.locator(".task-item")).to_have_count(0)
